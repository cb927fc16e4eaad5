/* file.c -- whole-file reads and read-only mappings with errors that name the file. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens path for reading and checks it is a regular file; returns its size. */
static frz_status open_regular(const char *path, int *fd_out, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return frz_fail(FRZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return frz_fail(FRZ_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return frz_fail(FRZ_ERR_IO, "%s: not a regular file", path);
    }
    *fd_out = fd;
    *size = (size_t)st.st_size;
    return FRZ_OK;
}

frz_status frz_read_file(const char *path, char **buf_out, size_t *len_out)
{
    *buf_out = NULL;
    int fd;
    size_t size;
    frz_status s = open_regular(path, &fd, &size);
    if (s != FRZ_OK) return s;
    char *buf = size == (size_t)-1 ? NULL : frz_malloc(size + 1, path);
    if (!buf) {
        close(fd);
        return FRZ_ERR_NOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            free(buf);
            close(fd);
            if (r == 0) return frz_fail(FRZ_ERR_IO, "%s: file shrank while reading (%zu of %zu bytes)", path, got, size);
            return frz_fail(FRZ_ERR_IO, "%s: read error: %s", path, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    buf[size] = 0;
    *buf_out = buf;
    *len_out = size;
    return FRZ_OK;
}

frz_status frz_map_file(const char *path, const void **map_out, size_t *len_out)
{
    *map_out = NULL;
    *len_out = 0;
    int fd;
    size_t size;
    frz_status s = open_regular(path, &fd, &size);
    if (s != FRZ_OK) return s;
    if (size == 0) {
        close(fd);
        return FRZ_OK;
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return frz_fail(FRZ_ERR_IO, "%s: cannot map %zu bytes: %s", path, size, strerror(e));
    *map_out = p;
    *len_out = size;
    return FRZ_OK;
}

void frz_unmap_file(const void *map, size_t len)
{
    if (map) munmap((void *)map, len);
}

frz_status frz_write_file_atomic(const char *path, const void *data, size_t len)
{
    size_t cap = strlen(path) + 32;
    char *tmp = frz_malloc(cap, "temporary file name");
    if (!tmp) return FRZ_ERR_NOMEM;
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        frz_status st = frz_fail(FRZ_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        free(tmp);
        return st;
    }
    const char *p = data;
    size_t left = len;
    int ok = 1;
    while (ok && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ok = 0;
        else p += w, left -= (size_t)w;
    }
    if (ok && fsync(fd) != 0) ok = 0;
    int e = errno;
    if (close(fd) != 0 && ok) ok = 0, e = errno;
    frz_status st = FRZ_OK;
    if (!ok) st = frz_fail(FRZ_ERR_IO, "%s: cannot write %s: %s", path, tmp, strerror(e));
    else if (rename(tmp, path) != 0) st = frz_fail(FRZ_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (st != FRZ_OK) unlink(tmp);
    free(tmp);
    return st;
}

char *frz_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    while (a > 1 && dir[a - 1] == '/') a--;
    char *p = frz_malloc(a + 1 + b + 1, "a file path");
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}
