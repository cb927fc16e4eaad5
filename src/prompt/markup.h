/* markup.h -- prompts written as text: inline image markers ("<img:a.jpg> This is a dax.") and request files
 * ({"segments": [{"text": ...} | {"image": path}]}), parsed into ordered text/image segments, and those segments
 * appended to a frz_prompt with messages that point at the marker or the segment at fault. What `frozen ask`
 * reads; the syntax is documented in docs/prompting.md. Internal. */
#ifndef FRZ_PROMPT_MARKUP_H
#define FRZ_PROMPT_MARKUP_H

#include "eval/eval.h"

/* Parsed segments and where each came from: the byte offset of its start in the markup text, or its index in
 * the request file's "segments" array. */
typedef struct frz_markup {
    frz_eval_prompt segs;
    size_t *origin;       /* (segs.n) */
    int from_request;     /* 1: origin is an index into "segments"; 0: a byte offset */
    char *source;         /* what the markup came from, for messages ("--prompt", "req.json") */
} frz_markup;

/* Inline markup. `<img:PATH>` is an image; PATH runs to the next unescaped '>' and may not hold a newline; `\<`
 * is a literal '<' (so `\<img:x>` is text), `\\` a literal backslash, `\>` a literal '>' inside a path; every
 * other character, backslashes before anything else included, is text as written. Relative paths are resolved
 * against base_dir (NULL: kept as written). Text between markers is kept exactly (no trimming); empty text makes
 * no segment. Errors (FRZ_ERR_FORMAT) name `source` and the byte offset: an unclosed marker, an empty path. */
frz_status frz_markup_parse(const char *text, const char *base_dir, const char *source, frz_markup *out);

/* A request file: {"segments": [{"text": STRING} | {"image": PATH}, ...]} (each object exactly one of the two
 * keys; no other keys). Image paths are relative to the file's folder. Errors name the file and the segment. */
frz_status frz_markup_load_request(const char *path, frz_markup *out);

void frz_markup_free(frz_markup *m);

/* Appends every segment to pr in order (texts with frz_prompt_add_text and text_flags, e.g.
 * FRZ_TOKENIZE_SPECIAL; images with frz_prompt_add_image_file).
 * An error is prefixed with the segment's origin: "--prompt: byte 17: image 'b.jpg': ..." or
 * "req.json: segments[2]: ...". */
frz_status frz_markup_to_prompt(const frz_markup *m, frz_prompt *pr, unsigned text_flags);

/* Number of image segments. */
size_t frz_markup_n_images(const frz_markup *m);

#endif
