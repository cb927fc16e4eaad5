/* bpe_train.c -- frz_tokenizer_train: count the corpus's words, learn the merges, write the files.
 * The algorithm, its tie-break and the files are specified in include/frozen.h; the steps live in
 * bpe_train_count.c, bpe_train_merge.c and bpe_train_write.c. */
#include "tokenizer/bpe_train.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void (frz_tokenizer_train_params_init)(frz_tokenizer_train_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->vocab_size = 50257;
    p->min_frequency = 2;
    p->n_threads = 1;
}

FRZ_DEFINE_INIT_SIZE(frz_tokenizer_train_params_init, frz_tokenizer_train_params)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static frz_status make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0) return FRZ_OK;
    struct stat sb;
    if (errno == EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return FRZ_OK;
    return frz_fail(FRZ_ERR_IO, "%s: cannot create the output folder: %s", dir, strerror(errno));
}

static int only_separators(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] != '\t' && text[i] != '\n' && text[i] != '\r') return 0;
    return 1;
}

frz_status frz_tokenizer_train(const char *corpus_path, const char *out_dir,
                               const frz_tokenizer_train_params *params, frz_tokenizer_train_stats *stats)
{
    const char *fn = "frz_tokenizer_train";
    if (!corpus_path || !out_dir) return frz_fail(FRZ_ERR_INVALID_ARG, "%s: a path is NULL", fn);
    if (stats && (stats->struct_size < sizeof stats->struct_size || stats->struct_size > sizeof *stats))
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: stats->struct_size is %zu; set it to sizeof "
                        "(frz_tokenizer_train_stats)", fn, stats->struct_size);
    frz_tokenizer_train_params p;
    frz_tokenizer_train_params_init(&p);
    frz_status st = frz_params_merge(&p, sizeof p, params, fn, "frz_tokenizer_train_params_init");
    if (st != FRZ_OK) return st;
    if (p.vocab_size < 257)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: vocab_size is %d; it must be at least 257 (the 256 bytes and "
                        "<|endoftext|>)", fn, (int)p.vocab_size);
    if (p.min_frequency < 1)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: min_frequency is %d; it must be at least 1", fn,
                        (int)p.min_frequency);
    if (p.n_threads < 1)
        return frz_fail(FRZ_ERR_INVALID_ARG, "%s: n_threads is %d; it must be at least 1", fn, (int)p.n_threads);

    frz_tokenizer_train_stats s = { .struct_size = sizeof s };
    double t0 = now_s();
    const void *map = NULL;
    size_t len = 0;
    st = frz_map_file(corpus_path, &map, &len);
    if (st != FRZ_OK) return st;
    if (len == 0 || (p.tab_segments && only_separators(map, len))) {
        frz_unmap_file(map, len);
        return frz_fail(FRZ_ERR_FORMAT, "%s: the corpus is empty%s", corpus_path,
                        len ? " (nothing but TABs and line ends)" : "");
    }
    frz_strtab words = { 0 };
    st = frz_bpe_count_words(corpus_path, map, len, p.tab_segments, p.n_threads, p.abort, p.abort_data, &words,
                             &s.n_words);
    frz_unmap_file(map, len);
    s.n_bytes = (int64_t)len;
    s.n_unique_words = words.n;
    double t1 = now_s();
    s.count_s = t1 - t0;
    frz_log(FRZ_LOG_INFO, "%s: %zu bytes, %lld words (%lld distinct) counted in %.2f s", corpus_path, len,
            (long long)s.n_words, (long long)s.n_unique_words, s.count_s);

    frz_bpe_model m = { 0 };
    if (st == FRZ_OK) st = frz_bpe_learn(&words, p.vocab_size - 1, p.min_frequency, p.abort, p.abort_data, &m);
    frz_strtab_free(&words);
    if (st == FRZ_OK) st = make_dir(out_dir);
    if (st == FRZ_OK) st = frz_bpe_write(&m, out_dir);
    if (st == FRZ_OK) {
        s.n_merges = m.n_merges;
        s.n_vocab = m.tokens.n + 1;
        s.last_count = m.last_count;
        s.merge_s = now_s() - t1;
        if (s.n_vocab < p.vocab_size)
            frz_log(FRZ_LOG_INFO, "%s: no pair occurs %d times any more: %d tokens, not %d", corpus_path,
                    (int)p.min_frequency, (int)s.n_vocab, (int)p.vocab_size);
        frz_log(FRZ_LOG_INFO, "%s: %d merges, %d tokens in %.2f s; the last merge occurred %lld times", out_dir,
                (int)s.n_merges, (int)s.n_vocab, s.merge_s, (long long)s.last_count);
        if (stats) {
            size_t n = stats->struct_size;
            memcpy(stats, &s, n);
            stats->struct_size = n;
        }
    }
    frz_bpe_model_free(&m);
    return st;
}
