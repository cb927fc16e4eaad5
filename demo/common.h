/* common.h -- small helpers the demo programs share (paths, folders, printing a file). */
#ifndef DEMO_COMMON_H
#define DEMO_COMMON_H

/* "dir/name", malloc'ed; NULL when out of memory. */
char *demo_join(const char *dir, const char *name);

/* mkdir -p. Returns 0, or -1 with the message printed ("frozen: DIR: cannot create the folder: ..."). */
int demo_mkdirs(const char *dir);

/* Copies a file to stdout (nothing when it cannot be read). */
void demo_cat(const char *path);

#endif
