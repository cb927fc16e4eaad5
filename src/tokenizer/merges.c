/* merges.c -- merges.txt and the merge-rank table of byte-level BPE: (left id, right id) -> rank, in a hash
 * (BPE looks a pair up at every step, so this must be O(1)). Read-only once loaded. */
#include "tokenizer/tok_internal.h"

#include <stdlib.h>
#include <string.h>

frz_status frz_merges_init(frz_merge_table *t, size_t max_merges)
{
    size_t slots = 16;
    while (slots < 2 * max_merges) slots *= 2;  /* load factor <= 1/2: short probe runs */
    t->n = 0;
    t->merge = frz_malloc(max_merges * sizeof *t->merge, "merge list");
    t->slot = frz_malloc(slots * sizeof *t->slot, "merge hash table");
    if (!t->merge || !t->slot) {
        frz_merges_free(t);
        return FRZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < slots; i++) t->slot[i].rank = -1;
    t->mask = slots - 1;
    return FRZ_OK;
}

void frz_merges_free(frz_merge_table *t)
{
    free(t->merge);
    free(t->slot);
    t->merge = NULL;
    t->slot = NULL;
    t->n = 0;
}

void frz_merges_add(frz_merge_table *t, int32_t left, int32_t right, int32_t result, int32_t *prev_rank)
{
    int32_t rank = t->n++;
    t->merge[rank] = (frz_merge){ left, right, result };
    size_t i = frz_merges_home(t, left, right);
    while (t->slot[i].rank >= 0 && !(t->slot[i].left == left && t->slot[i].right == right))
        i = (i + 1) & t->mask;
    *prev_rank = t->slot[i].rank;
    t->slot[i] = (struct frz_merge_slot){ left, right, rank };
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* One merge per line: two symbols separated by blanks. An optional "#version" first line and blank lines are
 * skipped; \r\n endings are accepted. A pair listed twice takes its later rank, as in the reference. */
static frz_status parse_merges(frz_merge_table *t, const char *path, const char *buf, size_t len,
                               const frz_vocab_index *vocab, const char *vocab_path)
{
    const char *end = buf + len;
    size_t line = 0, n_repeated = 0, first_repeat = 0;
    for (const char *p = buf; p < end; p++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line++;
        if (memchr(p, 0, (size_t)(eol - p)))
            return frz_fail(FRZ_ERR_FORMAT, "%s line %zu: NUL byte in the line", path, line);
        if (line == 1 && (size_t)(eol - p) >= 8 && memcmp(p, "#version", 8) == 0) {
            p = eol;
            continue;
        }
        const char *field[2];
        int flen[2], nf = 0;
        for (const char *q = p; q < eol;) {
            while (q < eol && is_blank(*q)) q++;
            if (q == eol) break;
            const char *s = q;
            while (q < eol && !is_blank(*q)) q++;
            if (nf == 2) {
                nf++;
                break;
            }
            field[nf] = s;
            flen[nf++] = (int)FRZ_MIN(q - s, INT32_MAX);
        }
        p = eol;
        if (nf == 0) continue;  /* blank line */
        if (nf != 2)
            return frz_fail(FRZ_ERR_FORMAT, "%s line %zu: expected two symbols separated by a space, found %s", path,
                            line, nf == 1 ? "one" : "more");
        uint64_t h = frz_vocab_hash(FRZ_VOCAB_HASH0, field[0], (size_t)flen[0]);
        int32_t left = frz_vocab_find(vocab, h, field[0], (size_t)flen[0], "", 0);
        int32_t right = frz_vocab_find(vocab, frz_vocab_hash(FRZ_VOCAB_HASH0, field[1], (size_t)flen[1]), field[1],
                                       (size_t)flen[1], "", 0);
        if (left < 0 || right < 0) {
            int k = left < 0 ? 0 : 1;
            return frz_fail(FRZ_ERR_FORMAT, "%s line %zu: merge part '%.*s' is not in %s", path, line,
                            FRZ_MIN(flen[k], FRZ_TOK_SHOW), field[k], vocab_path);
        }
        /* FNV-1a runs on: the hash of left+right continues from the hash of left. */
        h = frz_vocab_hash(h, field[1], (size_t)flen[1]);
        int32_t result = frz_vocab_find(vocab, h, field[0], (size_t)flen[0], field[1], (size_t)flen[1]);
        if (result < 0)
            return frz_fail(FRZ_ERR_FORMAT, "%s line %zu: merge result '%.*s%.*s' is not in %s", path, line,
                            FRZ_MIN(flen[0], FRZ_TOK_SHOW), field[0], FRZ_MIN(flen[1], FRZ_TOK_SHOW), field[1],
                            vocab_path);
        int32_t prev;
        frz_merges_add(t, left, right, result, &prev);
        if (prev >= 0 && n_repeated++ == 0) first_repeat = line;
    }
    if (n_repeated)
        frz_log(FRZ_LOG_WARN, "%s: %zu merges repeat an earlier line (the first at line %zu); the later rank applies",
                path, n_repeated, first_repeat);
    return FRZ_OK;
}

frz_status frz_merges_load(frz_merge_table *t, const char *path, const frz_vocab_index *vocab,
                           const char *vocab_path)
{
    char *buf = NULL;
    size_t len = 0;
    frz_status st = frz_read_file(path, &buf, &len);
    if (st != FRZ_OK) return st;
    size_t lines = 1;
    for (const char *p = buf; (p = memchr(p, '\n', len - (size_t)(p - buf))) != NULL; p++) lines++;
    st = frz_merges_init(t, lines);
    if (st == FRZ_OK) st = parse_merges(t, path, buf, len, vocab, vocab_path);
    free(buf);
    return st;
}
