/* check_tokenizer.c -- the GPT-2 tokenizer against the reference encoder (npm gpt-3-encoder, see
 * tests/reference/make_tokenizer_fixtures.sh): every corpus line gives exactly the reference ids and decodes back
 * to its bytes; the pre-tokeniser's character classes equal the reference's for every code point; invalid UTF-8,
 * special tokens, malformed files, allocation failures and concurrent use. */
#include "util/testutil.h"

#include "tokenizer/tok_internal.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* For hot loops: Check's ck_assert reports every passing check to the parent process (a write per call). */
#define REQUIRE(cond, ...)                  \
    do {                                    \
        if (!(cond)) ck_abort_msg(__VA_ARGS__); \
    } while (0)

#define GPT2_VOCAB FRZ_FIXTURES "/gpt2-tokenizer/vocab.json"
#define GPT2_MERGES FRZ_FIXTURES "/gpt2-tokenizer/merges.txt"

/* ---- shared state: loaded once in the parent process, inherited by each forked test ------------------------ */

typedef struct ref_case {
    char *text;
    size_t len;
    int32_t *ids;
    size_t n;
} ref_case;

static frz_tokenizer *gpt2;
static double gpt2_load_ms;
static ref_case *refs;
static size_t n_refs;
static json_t *gpt2_vocab;  /* vocab.json as parsed by the test itself */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void load_refs(void)
{
    FILE *f = fopen(FRZ_FIXTURES "/tokenizer/expected.jsonl", "r");
    ck_assert_msg(f != NULL, "cannot open expected.jsonl");
    char *line = NULL;
    size_t cap = 0, n_cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t err;
        json_t *j = json_loads(line, JSON_ALLOW_NUL, &err);
        ck_assert_msg(j != NULL, "expected.jsonl line %zu: %s", n_refs + 1, err.text);
        json_t *text = json_object_get(j, "text"), *ids = json_object_get(j, "ids");
        ck_assert(json_is_string(text) && json_is_array(ids));
        if (n_refs == n_cap) {
            n_cap = n_cap ? 2 * n_cap : 256;
            refs = realloc(refs, n_cap * sizeof *refs);
        }
        ref_case *r = &refs[n_refs++];
        r->len = json_string_length(text);
        r->text = malloc(r->len + 1);
        memcpy(r->text, json_string_value(text), r->len + 1);
        r->n = json_array_size(ids);
        r->ids = malloc((r->n + 1) * sizeof *r->ids);
        for (size_t i = 0; i < r->n; i++) r->ids[i] = (int32_t)json_integer_value(json_array_get(ids, i));
        json_decref(j);
    }
    free(line);
    fclose(f);
    ck_assert_uint_gt(n_refs, 300);
}

static void setup_gpt2(void)
{
    double t0 = now_s();
    frz_status st = frz_tokenizer_load(GPT2_VOCAB, GPT2_MERGES, &gpt2);
    gpt2_load_ms = (now_s() - t0) * 1e3;
    ck_assert_msg(st == FRZ_OK, "load: %s", frz_last_error());
    load_refs();
    json_error_t err;
    gpt2_vocab = json_load_file(GPT2_VOCAB, 0, &err);
    ck_assert(gpt2_vocab != NULL);
}

static void teardown_gpt2(void)
{
    frz_tokenizer_free(gpt2);
    gpt2 = NULL;
    for (size_t i = 0; i < n_refs; i++) {
        free(refs[i].text);
        free(refs[i].ids);
    }
    free(refs);
    refs = NULL;
    n_refs = 0;
    json_decref(gpt2_vocab);
}

/* The reference case whose text is exactly s. */
static const ref_case *ref_of(const char *s, size_t len)
{
    for (size_t i = 0; i < n_refs; i++)
        if (refs[i].len == len && memcmp(refs[i].text, s, len) == 0) return &refs[i];
    ck_abort_msg("the corpus has no line %.*s", (int)len, s);
    return NULL;
}
#define REF(lit) ref_of(lit, sizeof(lit) - 1)

/* GPT-2's bytes_to_unicode(), written out again here so that expected ids come from vocab.json itself. */
static unsigned byte_char(int b)
{
    unsigned n = 0;
    for (int i = 0; i < 256; i++) {
        int printable = (i >= 0x21 && i <= 0x7E) || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE && i <= 0xFF);
        if (i == b) return printable ? (unsigned)i : 256 + n;
        if (!printable) n++;
    }
    return 0;
}

static size_t put_utf8(unsigned c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 63));
        out[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 63));
    out[2] = (char)(0x80 | (c >> 6 & 63));
    out[3] = (char)(0x80 | (c & 63));
    return 4;
}

/* The id vocab.json gives the one-symbol token of byte b. */
static int32_t byte_token(int b)
{
    char key[4] = { 0 };
    put_utf8(byte_char(b), key);
    json_t *id = json_object_get(gpt2_vocab, key);
    ck_assert(id != NULL);
    return (int32_t)json_integer_value(id);
}

static char *decode_ids(const frz_tokenizer *tok, const int32_t *ids, size_t n, size_t *len)
{
    size_t cap = 64, used = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i < n; i++) {
        size_t tl;
        const char *t = frz_tokenizer_token_bytes(tok, ids[i], &tl);
        REQUIRE(t != NULL, "id %d has no bytes", ids[i]);
        while (used + tl + 1 > cap) out = realloc(out, cap *= 2);
        memcpy(out + used, t, tl);
        used += tl;
    }
    out[used] = 0;
    *len = used;
    return out;
}

static int ids_equal(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static void print_ids(const char *what, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s (%zu):", what, n);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

/* Encodes and checks the ids, then that they decode to the same bytes. */
static void check_encodes_to(const frz_tokenizer *tok, const char *text, size_t len, unsigned flags,
                             const int32_t *want, size_t n_want)
{
    int32_t *ids = NULL;
    size_t n = 0;
    frz_status st = frz_tokenizer_encode(tok, text, len, flags, &ids, &n);
    ck_assert_msg(st == FRZ_OK, "encode: %s", frz_last_error());
    if (!ids_equal(ids, n, want, n_want)) {
        fprintf(stderr, "mismatch for %.*s\n", (int)FRZ_MIN(len, 200), text);
        print_ids("got", ids, n);
        print_ids("want", want, n_want);
        ck_abort_msg("ids differ from the reference for %.*s", (int)FRZ_MIN(len, 80), text);
    }
    size_t dl;
    char *back = decode_ids(tok, ids, n, &dl);
    ck_assert_msg(dl == len && memcmp(back, text, len) == 0, "decode does not give the text back: %.*s",
                  (int)FRZ_MIN(len, 80), text);
    free(back);
    free(ids);
}

/* Encodes bytes that may be invalid UTF-8 and checks that decoding gives them back exactly. */
static void check_roundtrip(const frz_tokenizer *tok, const char *text, size_t len)
{
    int32_t *ids = NULL;
    size_t n = 0, dl;
    ck_assert_int_eq(frz_tokenizer_encode(tok, text, len, 0, &ids, &n), FRZ_OK);
    char *back = decode_ids(tok, ids, n, &dl);
    ck_assert_msg(dl == len && memcmp(back, text, len) == 0, "round trip failed (%zu bytes)", len);
    free(back);
    free(ids);
}

/* ---- the reference corpus -------------------------------------------------------------------------------- */

START_TEST(test_corpus_matches_reference)
{
    for (size_t i = 0; i < n_refs; i++) check_encodes_to(gpt2, refs[i].text, refs[i].len, 0, refs[i].ids, refs[i].n);
}
END_TEST

/* With FRZ_TOKENIZE_SPECIAL, text without special tokens is encoded as before. */
START_TEST(test_corpus_special_flag_without_specials)
{
    size_t checked = 0;
    for (size_t i = 0; i < n_refs; i++) {
        if (strstr(refs[i].text, "<|endoftext|>") || strlen(refs[i].text) != refs[i].len) continue;
        check_encodes_to(gpt2, refs[i].text, refs[i].len, FRZ_TOKENIZE_SPECIAL, refs[i].ids, refs[i].n);
        checked++;
    }
    ck_assert_uint_gt(checked, 250);
}
END_TEST

START_TEST(test_vocab_properties)
{
    ck_assert_int_eq(frz_tokenizer_n_vocab(gpt2), (int32_t)json_object_size(gpt2_vocab));
    ck_assert_int_eq(frz_tokenizer_eot(gpt2), (int32_t)json_integer_value(json_object_get(gpt2_vocab,
                                                                                          "<|endoftext|>")));
    ck_assert_int_eq(frz_tokenizer_eot(gpt2), 50256);
    size_t len = 99;
    ck_assert_ptr_null(frz_tokenizer_token_bytes(gpt2, -1, &len));
    ck_assert_ptr_null(frz_tokenizer_token_bytes(gpt2, frz_tokenizer_n_vocab(gpt2), &len));
    ck_assert_ptr_null(frz_tokenizer_token_bytes(NULL, 0, &len));
    ck_assert_int_eq(frz_tokenizer_n_vocab(NULL), 0);
    ck_assert_int_eq(frz_tokenizer_eot(NULL), -1);
}
END_TEST

/* Every token's bytes: its vocab.json key with each character mapped back through the byte alphabet. */
START_TEST(test_token_bytes_match_vocab)
{
    int inv[0x144];
    for (int i = 0; i < 0x144; i++) inv[i] = -1;
    for (int b = 0; b < 256; b++) inv[byte_char(b)] = b;
    const char *key;
    json_t *val;
    size_t n = 0;
    json_object_foreach(gpt2_vocab, key, val) {
        unsigned char want[256];
        size_t wl = 0;
        for (const unsigned char *p = (const unsigned char *)key; *p;) {
            unsigned c = *p++;
            if (c >= 0xC0) c = (c & 0x1F) << 6 | (*p++ & 0x3F);  /* the alphabet is U+0000..U+0143 */
            REQUIRE(c < 0x144 && inv[c] >= 0, "'%s' is outside the byte alphabet", key);
            want[wl++] = (unsigned char)inv[c];
        }
        size_t len;
        const char *got = frz_tokenizer_token_bytes(gpt2, (int32_t)json_integer_value(val), &len);
        REQUIRE(got != NULL && len == wl && memcmp(got, want, wl) == 0, "token bytes of '%s'", key);
        n++;
    }
    ck_assert_uint_eq(n, 50257);
}
END_TEST

/* ---- character classes: the reference's, for every code point ------------------------------------------- */

/* All code points of one class in a row are one pre-token iff the pre-tokeniser's class contains them all; the
 * four classes partition the code points, so four checks prove equality with the reference. */
START_TEST(test_unicode_classes_match_reference)
{
    const char classes[4] = { 'L', 'N', 'S', 'O' };
    char *text[4];
    size_t len[4] = { 0 }, count[4] = { 0 };
    for (int k = 0; k < 4; k++) text[k] = malloc(4 * 0x110000);
    FILE *f = fopen(FRZ_FIXTURES "/tokenizer/unicode_classes.txt", "r");
    ck_assert(f != NULL);
    char line[128], cls;
    unsigned a, b;
    unsigned covered = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        REQUIRE(sscanf(line, "%c %x %x", &cls, &a, &b) == 3 && strchr(classes, cls), "bad line %s", line);
        int k = (int)(strchr(classes, cls) - classes);
        for (unsigned c = a; c <= b; c++) {
            len[k] += put_utf8(c, text[k] + len[k]);
            count[k]++;
        }
        covered += b - a + 1;
    }
    fclose(f);
    ck_assert_uint_eq(covered, 0x110000 - 0x800);  /* every scalar value */
    ck_assert_uint_eq(count[2], 25);               /* JS \s: 25 code points */

    frz_pretok_iter it;
    ck_assert_int_eq(frz_pretok_begin(&it, gpt2->re, gpt2->gctx), FRZ_OK);
    for (int k = 0; k < 4; k++) {
        frz_pretok_set_text(&it, text[k], len[k]);
        size_t s, e;
        int more;
        ck_assert_int_eq(frz_pretok_next(&it, &s, &e, &more), FRZ_OK);
        ck_assert(more);
        if (s != 0 || e != len[k]) {
            size_t at = s != 0 ? 0 : e;
            ck_abort_msg("class %c: the pre-token ends at byte %zu of %zu, before the character starting "
                         "%02x %02x %02x %02x", classes[k], at, len[k], (unsigned char)text[k][at],
                         (unsigned char)text[k][at + 1], (unsigned char)text[k][at + 2],
                         (unsigned char)text[k][at + 3]);
        }
        ck_assert_int_eq(frz_pretok_next(&it, &s, &e, &more), FRZ_OK);
        ck_assert(!more);
    }
    frz_pretok_end(&it);
    for (int k = 0; k < 4; k++) free(text[k]);
}
END_TEST

/* ---- invalid UTF-8 ---------------------------------------------------------------------------------------- */

static const struct { const char *s; size_t n; } invalid_inputs[] = {
#define B(lit) { lit, sizeof(lit) - 1 }
    B("\x80"), B("a\x80" "b"), B("\xBF\xBF\xBF"), B("\xC3"), B("caf\xC3"), B("\xC3("), B("\xE2\x82"),
    B("\xE2\x82 x"), B("\xF0\x9F\x98"), B("\xF0\x9F\x98 \xF0\x9F"), B("\xC0\xAF"), B("\xC1\xBF"),
    B("\xE0\x80\xAF"), B("\xF0\x80\x80\xAF"), B("\xED\xA0\x80"), B("\xED\xBF\xBF"), B("\xED\xA0\xBD\xED\xB8\x80"),
    B("\xFF"), B("\xFE\xFF"), B("\xFF\xFE" "a\xFF"), B("\xF4\x90\x80\x80"), B("\xF8\x88\x80\x80\x80"),
    B("hello \xFF world"), B("  \xFF  "), B("it\xFF's"), B("'\xFFs"), B("\xFF'll"), B("12\x80" "34"),
    B("\xE4\xBD\xA0\xE5\xA5"), B("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80"),
    B("a\0\xFF\0b"), B("<|endoftext\xFF|>"), B("\xEF\xBB\xBF\xEF\xBB"),
#undef B
};

START_TEST(test_invalid_utf8_roundtrip)
{
    for (size_t i = 0; i < sizeof invalid_inputs / sizeof *invalid_inputs; i++)
        check_roundtrip(gpt2, invalid_inputs[i].s, invalid_inputs[i].n);
    /* Random bytes: short strings, and one long run with invalid sequences everywhere. */
    uint64_t x = 0x9E3779B97F4A7C15ull;
    enum { LONG = 300000 };
    char *buf = malloc(LONG);
    for (int t = 0; t < 300; t++) {
        size_t n = (size_t)(t % 64);
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (char)(x >> 56);
        }
        check_roundtrip(gpt2, buf, n);
    }
    for (size_t i = 0; i < LONG; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (char)(x >> 56);
    }
    check_roundtrip(gpt2, buf, LONG);
    free(buf);
}
END_TEST

/* The pre-tokeniser's own UTF-8 validation (PCRE2 then matches with PCRE2_NO_UTF_CHECK, so it must never let an
 * invalid sequence through) agrees with PCRE2's check: every 1- and 2-byte string, every 3- and 4-byte string
 * from a lead byte >= 0xC0 with boundary values in the later bytes. */
static int pcre2_says_valid(pcre2_code *re, pcre2_match_data *md, const unsigned char *s, size_t n)
{
    int rc = pcre2_match(re, s, n, 0, 0, md, NULL);
    REQUIRE(rc >= 0 || rc == PCRE2_ERROR_NOMATCH || (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21),
            "pcre2_match: %d", rc);
    return rc >= 0 || rc == PCRE2_ERROR_NOMATCH;
}

static int we_say_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = frz_utf8_valid_len(s + i, n - i);
        if (k == 0) return 0;
        REQUIRE(i + k <= n, "sequence longer than the string");
        i += k;
    }
    return 1;
}

START_TEST(test_utf8_validation_matches_pcre2)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR) "x", 1, PCRE2_UTF, &err, &off, NULL);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    static const unsigned char edge[] = { 0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xE0, 0xFF };
    unsigned char s[4];
    long checked = 0, valid = 0;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        REQUIRE(we_say_valid(s, 1) == pcre2_says_valid(re, md, s, 1), "%02x", a);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            int v = pcre2_says_valid(re, md, s, 2);
            REQUIRE(we_say_valid(s, 2) == v, "%02x %02x", a, b);
            checked++;
            valid += v;
            if (a < 0xC0) continue;
            for (size_t c = 0; c < sizeof edge; c++) {
                s[2] = edge[c];
                REQUIRE(we_say_valid(s, 3) == pcre2_says_valid(re, md, s, 3), "%02x %02x %02x", a, b, edge[c]);
                for (size_t d = 0; d < sizeof edge; d++) {
                    s[3] = edge[d];
                    REQUIRE(we_say_valid(s, 4) == pcre2_says_valid(re, md, s, 4), "%02x %02x %02x %02x", a, b,
                            edge[c], edge[d]);
                    checked++;
                }
            }
        }
    }
    ck_assert_int_gt(valid, 128 * 128);
    ck_assert_int_gt(checked, 1000000);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
}
END_TEST

/* Concatenates id lists. */
static int32_t *cat_ids(size_t *n, int k, ...)
{
    va_list ap;
    int32_t *out = malloc(4096 * sizeof *out);
    *n = 0;
    va_start(ap, k);
    for (int i = 0; i < k; i++) {
        const int32_t *ids = va_arg(ap, const int32_t *);
        size_t m = va_arg(ap, size_t);
        memcpy(out + *n, ids, m * sizeof *ids);
        *n += m;
    }
    va_end(ap);
    return out;
}
#define PART(r) (r)->ids, (r)->n

/* The documented behaviour: each valid fragment is encoded as if it were a text of its own (as the reference
 * encodes it), and a lone invalid byte becomes the byte's own token. */
START_TEST(test_invalid_utf8_fragments)
{
    int32_t ff = byte_token(0xFF), x80 = byte_token(0x80), c3 = byte_token(0xC3);
    size_t n;
    int32_t *want = cat_ids(&n, 3, PART(REF("hello ")), &ff, (size_t)1, PART(REF(" world")));
    check_encodes_to(gpt2, "hello \xFF world", 13, 0, want, n);
    free(want);
    want = cat_ids(&n, 3, PART(REF("ab")), &x80, (size_t)1, PART(REF("cd")));
    check_encodes_to(gpt2, "ab\x80" "cd", 5, 0, want, n);
    free(want);
    want = cat_ids(&n, 2, PART(REF("caf")), &c3, (size_t)1);
    check_encodes_to(gpt2, "caf\xC3", 4, 0, want, n);
    free(want);
    /* Whitespace before an invalid byte ends its fragment: "a " alone, not "a" + " \xFF"-ish splits. */
    want = cat_ids(&n, 3, PART(REF("a ")), &ff, (size_t)1, PART(REF(" b")));
    check_encodes_to(gpt2, "a \xFF b", 5, 0, want, n);
    free(want);
    want = cat_ids(&n, 3, PART(REF("  ")), &ff, (size_t)1, PART(REF("  ")));
    check_encodes_to(gpt2, "  \xFF  ", 5, 0, want, n);
    free(want);
    want = cat_ids(&n, 3, PART(REF("1")), &x80, (size_t)1, PART(REF("2")));
    check_encodes_to(gpt2, "1\x80" "2", 3, 0, want, n);
    free(want);
}
END_TEST

/* ---- special tokens --------------------------------------------------------------------------------------- */

START_TEST(test_special_tokens)
{
    int32_t eot = (int32_t)json_integer_value(json_object_get(gpt2_vocab, "<|endoftext|>"));
    size_t n;
    /* Off (the default): ordinary text, as the reference encodes it. */
    const ref_case *r = REF("Hello<|endoftext|>World");
    check_encodes_to(gpt2, r->text, r->len, 0, r->ids, r->n);
    ck_assert(r->n > 3);  /* the reference splits the marker into several tokens */
    /* On: the marker is its id, the text around it is encoded on its own. */
    int32_t *want = cat_ids(&n, 3, PART(REF("Hello")), &eot, (size_t)1, PART(REF("World")));
    check_encodes_to(gpt2, "Hello<|endoftext|>World", 23, FRZ_TOKENIZE_SPECIAL, want, n);
    free(want);
    int32_t two[2] = { eot, eot };
    check_encodes_to(gpt2, "<|endoftext|><|endoftext|>", 26, FRZ_TOKENIZE_SPECIAL, two, 2);
    check_encodes_to(gpt2, "<|endoftext|>", 13, FRZ_TOKENIZE_SPECIAL, &eot, 1);
    want = cat_ids(&n, 3, PART(REF(" ")), &eot, (size_t)1, PART(REF(" ")));
    check_encodes_to(gpt2, " <|endoftext|> ", 15, FRZ_TOKENIZE_SPECIAL, want, n);
    free(want);
    want = cat_ids(&n, 2, PART(REF("a")), &eot, (size_t)1);
    check_encodes_to(gpt2, "a<|endoftext|>", 14, FRZ_TOKENIZE_SPECIAL, want, n);
    free(want);
    want = cat_ids(&n, 2, &eot, (size_t)1, PART(REF("b")));
    check_encodes_to(gpt2, "<|endoftext|>b", 14, FRZ_TOKENIZE_SPECIAL, want, n);
    free(want);
    want = cat_ids(&n, 3, PART(REF("text before\n")), &eot, (size_t)1, PART(REF("\ntext after")));
    check_encodes_to(gpt2, "text before\n<|endoftext|>\ntext after", 36, FRZ_TOKENIZE_SPECIAL, want, n);
    free(want);
    /* Incomplete or unknown markers stay text. */
    static const char *plain[] = { "<|endoftext|", "|endoftext|>", "<|startoftext|>", "<||>", "<|", " <|endoftext|" };
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        r = ref_of(plain[i], strlen(plain[i]));
        check_encodes_to(gpt2, r->text, r->len, FRZ_TOKENIZE_SPECIAL, r->ids, r->n);
    }
    want = cat_ids(&n, 2, &eot, (size_t)1, PART(REF(">")));
    check_encodes_to(gpt2, "<|endoftext|>>", 14, FRZ_TOKENIZE_SPECIAL, want, n);
    free(want);
    want = cat_ids(&n, 2, PART(REF("<")), &eot, (size_t)1);
    check_encodes_to(gpt2, "<<|endoftext|>", 14, FRZ_TOKENIZE_SPECIAL, want, n);
    free(want);
}
END_TEST

/* ---- long inputs and speed -------------------------------------------------------------------------------- */

/* About 1 MB of English: one reference paragraph, which starts with a letter and ends with '.', repeated; no
 * pre-token spans two copies, so the ids are the reference's ids repeated. Prints the speed. */
START_TEST(test_megabyte_of_english)
{
    const ref_case *p = REF("In 1905, Albert Einstein published four groundbreaking papers. These outlined the theory "
                            "of the photoelectric effect, explained Brownian motion, introduced special relativity, "
                            "and demonstrated mass-energy equivalence.");
    size_t copies = (1u << 20) / p->len + 1, len = copies * p->len;
    char *text = malloc(len);
    int32_t *want = malloc(copies * p->n * sizeof *want);
    for (size_t i = 0; i < copies; i++) {
        memcpy(text + i * p->len, p->text, p->len);
        memcpy(want + i * p->n, p->ids, p->n * sizeof *want);
    }
    int32_t *ids;
    size_t n;
    double t0 = now_s();
    ck_assert_int_eq(frz_tokenizer_encode(gpt2, text, len, 0, &ids, &n), FRZ_OK);
    double dt = now_s() - t0;
    fprintf(stderr, "tokenizer: GPT-2 vocabulary loaded in %.1f ms; %.2f MB of English encoded in %.3f s "
            "(%.1f MB/s, %zu tokens)\n", gpt2_load_ms, (double)len / 1e6, dt, (double)len / 1e6 / dt, n);
    ck_assert_msg(ids_equal(ids, n, want, copies * p->n), "1 MB of English differs from the reference ids");
    free(ids);
    free(want);
    free(text);
}
END_TEST

/* One pre-token of a megabyte (a letter run, then a digit run) stays O(n log n) and round-trips. */
START_TEST(test_megabyte_pretoken)
{
    size_t len = 1u << 20;
    char *text = malloc(len);
    for (size_t i = 0; i < len; i++) text[i] = "abcdefghij"[i * 7 % 10];
    check_roundtrip(gpt2, text, len);
    memset(text, '7', len);
    check_roundtrip(gpt2, text, len);
    free(text);
}
END_TEST

/* Without JIT (a platform may refuse it; the load then falls back): the interpreter gives the same ids, and stays
 * linear in the text length. A copy of the compiled pattern has no JIT code. */
START_TEST(test_without_jit)
{
    frz_tokenizer nojit = *gpt2;
    nojit.re = pcre2_code_copy(gpt2->re);
    ck_assert_ptr_nonnull(nojit.re);
    size_t jit_size = 1;
    ck_assert_int_eq(pcre2_pattern_info(nojit.re, PCRE2_INFO_JITSIZE, &jit_size), 0);
    ck_assert_uint_eq(jit_size, 0);
    for (size_t i = 0; i < n_refs; i++) check_encodes_to(&nojit, refs[i].text, refs[i].len, 0, refs[i].ids, refs[i].n);
    for (size_t i = 0; i < sizeof invalid_inputs / sizeof *invalid_inputs; i++)
        check_roundtrip(&nojit, invalid_inputs[i].s, invalid_inputs[i].n);
    const ref_case *p = REF("In 1905, Albert Einstein published four groundbreaking papers. These outlined the theory "
                            "of the photoelectric effect, explained Brownian motion, introduced special relativity, "
                            "and demonstrated mass-energy equivalence.");
    size_t copies = (1u << 20) / p->len + 1, len = copies * p->len;
    char *text = malloc(len);
    for (size_t i = 0; i < copies; i++) memcpy(text + i * p->len, p->text, p->len);
    int32_t *ids;
    size_t n;
    double t0 = now_s();
    ck_assert_int_eq(frz_tokenizer_encode(&nojit, text, len, 0, &ids, &n), FRZ_OK);
    fprintf(stderr, "tokenizer: without JIT, %.2f MB of English encoded in %.3f s\n", (double)len / 1e6,
            now_s() - t0);
    int same = n == copies * p->n;
    for (size_t i = 0; same && i < n; i++) same = ids[i] == p->ids[i % p->n];
    ck_assert_msg(same, "without JIT, 1 MB of English differs from the reference ids");
    free(ids);
    free(text);
    pcre2_code_free(nojit.re);
}
END_TEST

/* ---- threads ---------------------------------------------------------------------------------------------- */

static void *encode_all(void *arg)
{
    long *bad = arg;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < n_refs; i++) {
            int32_t *ids;
            size_t n;
            if (frz_tokenizer_encode(gpt2, refs[i].text, refs[i].len, 0, &ids, &n) != FRZ_OK ||
                !ids_equal(ids, n, refs[i].ids, refs[i].n))
                (*bad)++;
            free(ids);
        }
    return NULL;
}

START_TEST(test_threads_share_one_tokenizer)
{
    pthread_t th[4];
    long bad[4] = { 0 };
    for (int i = 0; i < 4; i++) ck_assert_int_eq(pthread_create(&th[i], NULL, encode_all, &bad[i]), 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(bad[i], 0);
}
END_TEST

/* ---- allocation failures ---------------------------------------------------------------------------------- */

START_TEST(test_load_allocation_failures)
{
    long k;
    frz_tokenizer *tok = NULL;
    for (k = 1;; k++) {
        frz_test_fail_alloc_at(k);
        frz_status st = frz_tokenizer_load(GPT2_VOCAB, GPT2_MERGES, &tok);
        frz_test_fail_alloc_at(0);
        if (st == FRZ_OK) break;
        ck_assert_msg(st == FRZ_ERR_NOMEM, "allocation %ld: status %d (%s)", k, st, frz_last_error());
        ck_assert_ptr_null(tok);
        ck_assert_msg(strstr(frz_last_error(), "out of memory") != NULL, "message: %s", frz_last_error());
        ck_assert_int_lt(k, 1000);
    }
    ck_assert_int_gt(k, 10);
    /* The load that succeeded (possibly without JIT, if its allocation was the one that failed) is complete. */
    const ref_case *r = REF("It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
                            "age of foolishness, it was the epoch of belief, it was the epoch of incredulity.");
    check_encodes_to(tok, r->text, r->len, 0, r->ids, r->n);
    frz_tokenizer_free(tok);
}
END_TEST

/* The text needs the id array to grow past its first size and the BPE scratch to grow for a long pre-token late in
 * the text, so failures also hit allocations made after the output exists. */
START_TEST(test_encode_allocation_failures)
{
    char text[2048] = "Hello<|endoftext|>";
    for (int i = 0; i < 100; i++) strcat(text, " word");
    strcat(text, " ");
    for (int i = 0; i < 300; i++) strcat(text, "x");
    strcat(text, " \xFF 1234567 \xF0\x9F\x98\x80!");
    long k;
    for (unsigned flags = 0; flags <= FRZ_TOKENIZE_SPECIAL; flags++) {
        for (k = 1;; k++) {
            int32_t *ids = (int32_t *)&k;
            size_t n = 7;
            frz_test_fail_alloc_at(k);
            frz_status st = frz_tokenizer_encode(gpt2, text, strlen(text), flags, &ids, &n);
            frz_test_fail_alloc_at(0);
            if (st == FRZ_OK) {
                free(ids);
                break;
            }
            ck_assert_int_eq(st, FRZ_ERR_NOMEM);
            ck_assert_ptr_null(ids);
            ck_assert_uint_eq(n, 0);
            ck_assert_int_lt(k, 100);
        }
        ck_assert_int_gt(k, 10);  /* match data, scratch, ids, a bigger scratch, more ids */
    }
    check_roundtrip(gpt2, text, strlen(text));
}
END_TEST

START_TEST(test_bad_arguments)
{
    int32_t *ids;
    size_t n;
    ck_assert_int_eq(frz_tokenizer_encode(NULL, "a", 1, 0, &ids, &n), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_tokenizer_encode(gpt2, NULL, 1, 0, &ids, &n), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_tokenizer_encode(gpt2, "a", 1, 0, NULL, &n), FRZ_ERR_INVALID_ARG);
    ck_assert_int_eq(frz_tokenizer_encode(gpt2, NULL, 0, 0, &ids, &n), FRZ_OK);
    ck_assert_uint_eq(n, 0);
    free(ids);
    frz_tokenizer *tok = (frz_tokenizer *)&n;
    ck_assert_int_eq(frz_tokenizer_load(NULL, GPT2_MERGES, &tok), FRZ_ERR_INVALID_ARG);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(frz_tokenizer_load(GPT2_VOCAB, GPT2_MERGES, NULL), FRZ_ERR_INVALID_ARG);
    frz_tokenizer_free(NULL);
}
END_TEST

/* ---- small hand-made vocabularies: file validation and BPE rules ------------------------------------------ */

/* Temporary file paths kept longer than testutil's rotating buffers keep them. */
static const char *keep_path(const char *p)
{
    static char pool[16][4096];
    static int next;
    char *slot = pool[next++ % 16];
    snprintf(slot, sizeof pool[0], "%s", p);
    return slot;
}

/* vocab.json with the 256 byte symbols (id = byte value) plus extra "key", id pairs (key NULL ends the list;
 * a negative id deletes the key). */
static const char *small_vocab(const char *const *extra_keys, const int *extra_ids)
{
    json_t *v = json_object();
    for (int b = 0; b < 256; b++) {
        char key[4] = { 0 };
        put_utf8(byte_char(b), key);
        json_object_set_new(v, key, json_integer(b));
    }
    for (int i = 0; extra_keys && extra_keys[i]; i++) {
        if (extra_ids[i] < 0) json_object_del(v, extra_keys[i]);
        else json_object_set_new(v, extra_keys[i], json_integer(extra_ids[i]));
    }
    char *s = json_dumps(v, JSON_COMPACT);
    const char *path = keep_path(write_temp_file("vocab.json", s, strlen(s)));
    free(s);
    json_decref(v);
    return path;
}

static const char *merges_file(const char *text)
{
    return keep_path(write_temp_file("merges.txt", text, strlen(text)));
}

/* Loads and expects FRZ_ERR_FORMAT (or `code`) with a message containing each of the given strings. */
static void expect_load_error(const char *vocab, const char *merges, frz_status code, const char *m1,
                              const char *m2)
{
    frz_tokenizer *tok = NULL;
    frz_status st = frz_tokenizer_load(vocab, merges, &tok);
    ck_assert_msg(st == code, "status %d, want %d (%s)", st, code, frz_last_error());
    ck_assert_ptr_null(tok);
    ck_assert_msg(strstr(frz_last_error(), m1) != NULL, "message '%s' lacks '%s'", frz_last_error(), m1);
    if (m2) ck_assert_msg(strstr(frz_last_error(), m2) != NULL, "message '%s' lacks '%s'", frz_last_error(), m2);
}

static const char *const abc_keys[] = { "ab", "bc", "abc", NULL };
static const int abc_ids[] = { 256, 257, 258 };

START_TEST(test_malformed_vocab)
{
    const char *merges = merges_file("#version: 0.2\na b\n");  /* valid: the errors are all in vocab.json */
    const char *p;
    p = write_temp_file("vocab.json", "{\"a\": 1,,}", 10);
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "line 1 column");
    p = write_temp_file("vocab.json", "[1, 2]", 6);
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "JSON object");
    p = write_temp_file("vocab.json", "{}", 2);
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "empty");
    p = write_temp_file("vocab.json", "{\"a\": 1, \"a\": 2}", 16);
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "duplicate");
    p = write_temp_file("vocab.json", "{\"a\": \"1\"}", 10);
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "token 'a': the id must be an integer");
    p = write_temp_file("vocab.json", "{\"a\": -3}", 9);
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "token 'a': negative id -3");
    p = write_temp_file("vocab.json", "{\"a\": 5000000000}", 17);
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "out of range");
    p = small_vocab((const char *const[]){ "ab", NULL }, (const int[]){ 98 });  /* 'b' has id 98 too */
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "both have id 98");
    p = small_vocab((const char *const[]){ "\xC4\x80", NULL }, (const int[]){ -1 });  /* U+0100 = byte 0x00 */
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "byte-level symbol '\xC4\x80' (U+0100, byte 0x00) is missing");
    p = small_vocab((const char *const[]){ "\xC4\xA0", NULL }, (const int[]){ -1 });  /* U+0120 = space */
    expect_load_error(p, merges, FRZ_ERR_FORMAT, p, "byte 0x20) is missing");
    expect_load_error("/nonexistent/vocab.json", merges, FRZ_ERR_IO, "/nonexistent/vocab.json", NULL);
}
END_TEST

START_TEST(test_malformed_merges)
{
    const char *vocab = small_vocab(abc_keys, abc_ids);
    const char *p;
    p = merges_file("#version: 0.2\na b\nb c\nab c\na\n");
    expect_load_error(vocab, p, FRZ_ERR_FORMAT, "merges.txt line 5: expected two symbols", "found one");
    p = merges_file("a b\nb c d\n");
    expect_load_error(vocab, p, FRZ_ERR_FORMAT, "merges.txt line 2: expected two symbols", "found more");
    p = merges_file("a b\n\nab x9\n");
    expect_load_error(vocab, p, FRZ_ERR_FORMAT, "merges.txt line 3: merge part 'x9' is not in", vocab);
    p = merges_file("#version: 0.2\na b\nb c\na c\n");
    expect_load_error(vocab, p, FRZ_ERR_FORMAT, "merges.txt line 4: merge result 'ac' is not in", vocab);
    p = write_temp_file("merges.txt", "a b\nb\0c\n", 8);
    expect_load_error(vocab, p, FRZ_ERR_FORMAT, "merges.txt line 2: NUL byte", NULL);
    expect_load_error(vocab, "/nonexistent/merges.txt", FRZ_ERR_IO, "/nonexistent/merges.txt", NULL);
    /* The message the brief quotes, on the real vocabulary. */
    expect_load_error(GPT2_VOCAB, merges_file("#version: 0.2\n\xC4\xA0 t\nh e\n\xC4\xA0t he\n\xC4\xA0 x\xC4\xA0the\n"),
                      FRZ_ERR_FORMAT, "merges.txt line 5: merge part 'x\xC4\xA0the' is not in", GPT2_VOCAB);
    expect_load_error(GPT2_VOCAB, merges_file("#version: 0.2\nq \xC4\xA0the\n"), FRZ_ERR_FORMAT,
                      "merges.txt line 2: merge result 'q\xC4\xA0the' is not in", "vocab.json");
}
END_TEST

static void expect_small(const frz_tokenizer *tok, const char *text, unsigned flags, const int32_t *want, size_t n)
{
    check_encodes_to(tok, text, strlen(text), flags, want, n);
}

static char last_log[1024];

static void keep_log(frz_log_level level, const char *text, void *user)
{
    (void)level;
    (void)user;
    snprintf(last_log, sizeof last_log, "%s", text);
}

START_TEST(test_merges_rules)
{
    const char *vocab = small_vocab(abc_keys, abc_ids);
    frz_tokenizer *tok;
    frz_set_log_callback(keep_log, NULL, FRZ_LOG_WARN);
    /* A pair listed twice takes the later rank (the reference builds a dict from the list): (a b) at 1 beats
     * (b c) at 2, so "abc" is ab + c; with the first rank kept it would be a + bc. CRLF, blank lines, no
     * #version line and no final newline are all fine. */
    ck_assert_int_eq(frz_tokenizer_load(vocab, merges_file("b c\r\n\r\na b\n   \nb c"), &tok), FRZ_OK);
    frz_set_log_callback(NULL, NULL, FRZ_LOG_ERROR);
    ck_assert_msg(strstr(last_log, "merges.txt: 1 merges repeat an earlier line (the first at line 5)") != NULL,
                  "log: %s", last_log);
    expect_small(tok, "abc", 0, (const int32_t[]){ 256, 'c' }, 2);
    expect_small(tok, "bc", 0, (const int32_t[]){ 257 }, 1);
    ck_assert_int_eq(frz_tokenizer_eot(tok), -1);
    frz_tokenizer_free(tok);
    /* Ranks decide, not positions: (b c) first makes "abc" a + bc. */
    ck_assert_int_eq(frz_tokenizer_load(vocab, merges_file("#version: 0.2\nb c\na b\n"), &tok), FRZ_OK);
    expect_small(tok, "abc", 0, (const int32_t[]){ 'a', 257 }, 2);
    expect_small(tok, "abcabc", 0, (const int32_t[]){ 'a', 257, 'a', 257 }, 4);
    frz_tokenizer_free(tok);
    /* An empty merges file: bytes only. */
    ck_assert_int_eq(frz_tokenizer_load(vocab, merges_file(""), &tok), FRZ_OK);
    expect_small(tok, "abc", 0, (const int32_t[]){ 'a', 'b', 'c' }, 3);
    frz_tokenizer_free(tok);

    /* One pass merges every occurrence of the best pair before a lower-ranked pair it creates is looked at:
     * with (ab a) ranked above (a b), "abab" -> ab ab (the reference), not aba b. */
    const char *vocab2 = small_vocab((const char *const[]){ "ab", "aba", NULL }, (const int[]){ 256, 257 });
    ck_assert_int_eq(frz_tokenizer_load(vocab2, merges_file("ab a\na b\n"), &tok), FRZ_OK);
    expect_small(tok, "abab", 0, (const int32_t[]){ 256, 256 }, 2);
    expect_small(tok, "aba", 0, (const int32_t[]){ 257 }, 1);
    frz_tokenizer_free(tok);
    /* Overlapping occurrences go left first: "aaa" -> aa a. */
    const char *vocab3 = small_vocab((const char *const[]){ "aa", NULL }, (const int[]){ 256 });
    ck_assert_int_eq(frz_tokenizer_load(vocab3, merges_file("a a\n"), &tok), FRZ_OK);
    expect_small(tok, "aaa", 0, (const int32_t[]){ 256, 'a' }, 2);
    expect_small(tok, "aaaa", 0, (const int32_t[]){ 256, 256 }, 2);
    frz_tokenizer_free(tok);
}
END_TEST

START_TEST(test_small_vocab_specials_and_gaps)
{
    /* Ids with a gap (259 unused), added tokens outside the byte alphabet, two special tokens one inside the
     * other (the longest wins). */
    const char *vocab = small_vocab((const char *const[]){ "ab", "<|x|>", "<|x|><|y|>", "hello world", NULL },
                                    (const int[]){ 256, 257, 258, 260 });
    frz_tokenizer *tok;
    ck_assert_int_eq(frz_tokenizer_load(vocab, merges_file("a b\n"), &tok), FRZ_OK);
    ck_assert_int_eq(frz_tokenizer_n_vocab(tok), 261);
    size_t len;
    ck_assert_ptr_null(frz_tokenizer_token_bytes(tok, 259, &len));
    const char *t = frz_tokenizer_token_bytes(tok, 260, &len);
    ck_assert(t && len == 11 && memcmp(t, "hello world", 11) == 0);
    t = frz_tokenizer_token_bytes(tok, ' ' , &len);  /* byte 0x20 is the symbol U+0120 */
    ck_assert(t && len == 1 && t[0] == ' ');
    expect_small(tok, "ab<|x|><|y|>b<|x|>", FRZ_TOKENIZE_SPECIAL, (const int32_t[]){ 256, 258, 'b', 257 }, 4);
    expect_small(tok, "<|x|>", 0, (const int32_t[]){ '<', '|', 'x', '|', '>' }, 5);
    expect_small(tok, "<|x|", FRZ_TOKENIZE_SPECIAL, (const int32_t[]){ '<', '|', 'x', '|' }, 4);
    frz_tokenizer_free(tok);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("gpt2");
    tcase_add_unchecked_fixture(tc, setup_gpt2, teardown_gpt2);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_corpus_matches_reference);
    tcase_add_test(tc, test_corpus_special_flag_without_specials);
    tcase_add_test(tc, test_vocab_properties);
    tcase_add_test(tc, test_token_bytes_match_vocab);
    tcase_add_test(tc, test_unicode_classes_match_reference);
    tcase_add_test(tc, test_utf8_validation_matches_pcre2);
    tcase_add_test(tc, test_invalid_utf8_roundtrip);
    tcase_add_test(tc, test_invalid_utf8_fragments);
    tcase_add_test(tc, test_special_tokens);
    tcase_add_test(tc, test_megabyte_of_english);
    tcase_add_test(tc, test_megabyte_pretoken);
    tcase_add_test(tc, test_without_jit);
    tcase_add_test(tc, test_threads_share_one_tokenizer);
    tcase_add_test(tc, test_load_allocation_failures);
    tcase_add_test(tc, test_encode_allocation_failures);
    tcase_add_test(tc, test_bad_arguments);
    suite_add_tcase(s, tc);
    TCase *files = tcase_create("files");
    tcase_add_unchecked_fixture(files, setup_gpt2, teardown_gpt2);
    tcase_set_timeout(files, 60);
    tcase_add_test(files, test_malformed_vocab);
    tcase_add_test(files, test_malformed_merges);
    tcase_add_test(files, test_merges_rules);
    tcase_add_test(files, test_small_vocab_specials_and_gaps);
    suite_add_tcase(s, files);
    return s;
}

FRZ_TEST_MAIN(make_suite)
