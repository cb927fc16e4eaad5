/* load.c -- builds a frz_tokenizer from vocab.json (token -> id) and merges.txt (merges.c), validating both:
 * errors name the file and the token or line at fault. */
#include "tokenizer/tok_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Number of code points the byte-level alphabet uses: U+0000..U+0143. */
#define ALPHABET_SPAN 324

/* GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves; the other 68 (controls, space, DEL,
 * NBSP, soft hyphen) take U+0100, U+0101, ... in byte order, so that every byte is a visible character. */
void frz_byte_alphabet(uint32_t cp[256])
{
    uint32_t n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp[b] = printable ? (uint32_t)b : 256 + n++;
    }
}

static size_t utf8_put(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    /* The alphabet only needs two-byte sequences. */
    out[0] = (char)(0xC0 | c >> 6);
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
}

/* Next code point of valid UTF-8 (Jansson has checked the keys). */
static uint32_t utf8_get(const unsigned char *s, size_t *i)
{
    uint32_t c = s[(*i)++];
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    c &= extra == 3 ? 0x07 : extra == 2 ? 0x0F : extra == 1 ? 0x1F : 0x7F;
    while (extra-- > 0) c = c << 6 | (s[(*i)++] & 0x3F);
    return c;
}

/* The raw bytes of a vocabulary entry: each character of the byte-level alphabet is one byte. An entry with any
 * other character cannot come out of BPE; it is taken as its own UTF-8 text (an added token). */
static size_t token_bytes(const char *key, size_t klen, const int16_t inv[ALPHABET_SPAN], char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < klen;) {
        uint32_t c = utf8_get((const unsigned char *)key, &i);
        if (c >= ALPHABET_SPAN || inv[c] < 0) {
            memcpy(out, key, klen);
            return klen;
        }
        out[n++] = (char)inv[c];
    }
    return n;
}

static int is_special(const char *key, size_t klen)
{
    return klen >= 4 && memcmp(key, "<|", 2) == 0 && memcmp(key + klen - 2, "|>", 2) == 0;
}

/* ---- the key index ---------------------------------------------------------------------------------- */

uint64_t frz_vocab_hash(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001B3ull;
    return h;
}

static size_t index_home(const frz_vocab_index *ix, uint64_t h) { return (size_t)(h ^ h >> 31) & ix->mask; }

int32_t frz_vocab_find(const frz_vocab_index *ix, uint64_t h, const char *a, size_t na, const char *b, size_t nb)
{
    for (size_t i = index_home(ix, h);; i = (i + 1) & ix->mask) {
        const struct frz_vocab_slot *s = &ix->slot[i];
        if (!s->key) return -1;
        if (s->hash == h && s->len == na + nb && memcmp(s->key, a, na) == 0 && memcmp(s->key + na, b, nb) == 0)
            return s->id;
    }
}

/* Keys are unique (the JSON is parsed with JSON_REJECT_DUPLICATES). */
static void index_add(frz_vocab_index *ix, const char *key, size_t len, int32_t id)
{
    uint64_t h = frz_vocab_hash(FRZ_VOCAB_HASH0, key, len);
    size_t i = index_home(ix, h);
    while (ix->slot[i].key) i = (i + 1) & ix->mask;
    ix->slot[i] = (struct frz_vocab_slot){ key, len, h, id };
}

/* ---- vocab.json ------------------------------------------------------------------------------------- */

/* Parses vocab.json into *json (the index points into it) and fills ids, token bytes, specials and byte ids. */
static frz_status load_vocab(frz_tokenizer *tok, const char *path, json_t **json, frz_vocab_index *ix)
{
    char *buf;
    size_t len;
    frz_status st = frz_read_file(path, &buf, &len);
    if (st != FRZ_OK) return st;
    json_error_t jerr;
    json_t *v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!v) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return frz_fail(FRZ_ERR_NOMEM, "%s: out of memory parsing JSON", path);
        return frz_fail(FRZ_ERR_FORMAT, "%s: line %d column %d (byte %d): %s", path, jerr.line, jerr.column,
                        jerr.position, jerr.text);
    }
    *json = v;
    if (!json_is_object(v)) return frz_fail(FRZ_ERR_FORMAT, "%s: expected a JSON object of token -> id", path);
    size_t count = json_object_size(v);
    if (count == 0) return frz_fail(FRZ_ERR_FORMAT, "%s: the vocabulary is empty", path);

    /* Ids index arrays, so they must be dense enough that a small file cannot ask for a huge table. */
    const char *key;
    json_t *val;
    json_int_t max_id = -1, limit = (json_int_t)count * 2 + 1024;
    size_t total = 0;
    json_object_foreach(v, key, val) {
        if (!json_is_integer(val))
            return frz_fail(FRZ_ERR_FORMAT, "%s: token '%.*s': the id must be an integer", path, FRZ_TOK_SHOW, key);
        json_int_t id = json_integer_value(val);
        if (id < 0)
            return frz_fail(FRZ_ERR_FORMAT, "%s: token '%.*s': negative id %lld", path, FRZ_TOK_SHOW, key,
                            (long long)id);
        if (id >= limit)
            return frz_fail(FRZ_ERR_FORMAT, "%s: token '%.*s': id %lld is out of range for %zu tokens (ids must be "
                            "below %lld)", path, FRZ_TOK_SHOW, key, (long long)id, count, (long long)limit);
        if (id > max_id) max_id = id;
        total += strlen(key);
    }
    if (total > UINT32_MAX) return frz_fail(FRZ_ERR_FORMAT, "%s: the tokens are too long", path);

    size_t slots = 16;
    while (slots < 2 * count) slots *= 2;
    ix->slot = frz_calloc(slots, sizeof *ix->slot, "vocabulary index");
    ix->mask = slots - 1;
    tok->n_vocab = (int32_t)max_id + 1;
    tok->tok_off = frz_malloc((size_t)tok->n_vocab * sizeof *tok->tok_off, "token offsets");
    tok->tok_len = frz_malloc((size_t)tok->n_vocab * sizeof *tok->tok_len, "token lengths");
    tok->bytes = frz_malloc(total, "token bytes");
    tok->special = frz_malloc(count * sizeof *tok->special, "special tokens");
    if (!ix->slot || !tok->tok_off || !tok->tok_len || !tok->bytes || !tok->special) return FRZ_ERR_NOMEM;
    for (int32_t i = 0; i < tok->n_vocab; i++) tok->tok_len[i] = -1;

    uint32_t cp[256];
    int16_t inv[ALPHABET_SPAN];
    frz_byte_alphabet(cp);
    for (int i = 0; i < ALPHABET_SPAN; i++) inv[i] = -1;
    for (int b = 0; b < 256; b++) inv[cp[b]] = (int16_t)b;

    uint32_t off = 0;
    tok->eot = -1;
    json_object_foreach(v, key, val) {
        int32_t id = (int32_t)json_integer_value(val);
        if (tok->tok_len[id] >= 0) {
            const char *other = NULL;
            json_t *oval;
            json_object_foreach(v, other, oval) if (json_integer_value(oval) == id && other != key) break;
            return frz_fail(FRZ_ERR_FORMAT, "%s: tokens '%.*s' and '%.*s' both have id %d", path, FRZ_TOK_SHOW,
                            other ? other : "?", FRZ_TOK_SHOW, key, id);
        }
        size_t klen = strlen(key);
        index_add(ix, key, klen, id);
        size_t n = token_bytes(key, klen, inv, tok->bytes + off);
        tok->tok_off[id] = off;
        tok->tok_len[id] = (int32_t)n;
        off += (uint32_t)n;
        if (is_special(key, klen)) tok->special[tok->n_special++] = id;
        if (strcmp(key, "<|endoftext|>") == 0) tok->eot = id;
    }
    /* Longest first, so that the longest special token wins where several match. */
    for (int32_t i = 1; i < tok->n_special; i++)
        for (int32_t j = i; j > 0 && tok->tok_len[tok->special[j]] > tok->tok_len[tok->special[j - 1]]; j--) {
            int32_t t = tok->special[j];
            tok->special[j] = tok->special[j - 1];
            tok->special[j - 1] = t;
        }

    for (int b = 0; b < 256; b++) {
        char sym[3] = { 0 };
        size_t n = utf8_put(cp[b], sym);
        tok->byte_id[b] = frz_vocab_find(ix, frz_vocab_hash(FRZ_VOCAB_HASH0, sym, n), sym, n, "", 0);
        if (tok->byte_id[b] < 0)
            return frz_fail(FRZ_ERR_FORMAT, "%s: the byte-level symbol '%s' (U+%04X, byte 0x%02X) is missing",
                            path, sym, (unsigned)cp[b], (unsigned)b);
    }
    return FRZ_OK;
}

frz_status frz_tokenizer_load(const char *vocab_json, const char *merges_txt, frz_tokenizer **out)
{
    if (!out) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_tokenizer_load: out is NULL");
    *out = NULL;
    if (!vocab_json || !merges_txt) return frz_fail(FRZ_ERR_INVALID_ARG, "frz_tokenizer_load: a path is NULL");
    frz_tokenizer *tok = frz_calloc(1, sizeof *tok, "tokenizer");
    if (!tok) return FRZ_ERR_NOMEM;
    json_t *json = NULL;
    frz_vocab_index ix = { 0 };
    frz_status st = load_vocab(tok, vocab_json, &json, &ix);
    if (st == FRZ_OK) st = frz_merges_load(&tok->merges, merges_txt, &ix, vocab_json);
    free(ix.slot);
    json_decref(json);
    if (st == FRZ_OK) st = frz_pretok_compile(&tok->re, &tok->gctx);
    if (st != FRZ_OK) {
        frz_tokenizer_free(tok);
        return st;
    }
    frz_pretok_jit(tok->re);  /* last: it cannot fail the load */
    *out = tok;
    return FRZ_OK;
}
