/**
 * @file frozen.h
 * @brief libfrozen: an embeddable implementation of Frozen (Tsimpoukelli et al., "Multimodal Few-Shot Learning
 * with Frozen Language Models", NeurIPS 2021). This header is the whole public API.
 *
 * A pretrained GPT-2 (frz_lm) stays frozen. A vision encoder (frz_vision, an NF-ResNet) and a linear projector
 * (frz_projector) turn an image (frz_image) into a few embedding vectors in the LM's input space, the visual
 * prefix; a prompt (frz_prompt) interleaves such images with text; a session (frz_session) runs the LM over
 * it and generates or scores continuations. frz_train trains the encoder and projector by captioning, through
 * the frozen LM. Complete programs: examples/c (generate, caption, fewshot, train); concepts and tasks:
 * docs/guide.md; the ABI rules: docs/abi.md.
 *
 * Quick tour
 * ----------
 *
 *     if (FRZ_CHECK_VERSION() != FRZ_OK) { ... }                // the library loaded suits this header
 *     frz_lm *lm = NULL;
 *     if (frz_lm_load("models/gpt2", &lm) != FRZ_OK) {          // a Hugging Face GPT-2 folder
 *         fprintf(stderr, "%s\n", frz_last_error());            // names the file / tensor / field at fault
 *         return 1;
 *     }
 *     frz_session *s = NULL;
 *     frz_session_create(lm, &s);                               // per-thread state: KV cache, scratch, RNG
 *     frz_session_set_int(s, FRZ_OPT_THREADS, 2);
 *
 *     int32_t ids[256]; size_t n = 0;
 *     frz_tokenize(lm, "Hello, my dog", (size_t)-1, 0, ids, 256, &n);
 *     frz_input in = { 0, n, ids, NULL };                       // sequence 0, n token ids
 *     frz_session_eval(s, &in, 1, FRZ_LOGITS_LAST);             // prefill (fills the KV cache)
 *
 *     frz_generate_params gp; frz_generate_params_init(&gp);  // greedy by default
 *     gp.max_tokens = 20;
 *     int32_t out[20]; size_t n_out = 0;
 *     frz_generate(s, 0, &gp, out, 20, &n_out);                 // continues sequence 0
 *     char text[1024]; size_t len = 0;
 *     frz_detokenize(lm, out, n_out, text, sizeof text, &len);
 *
 *     frz_session_free(s);
 *     frz_lm_free(lm);
 *
 * With images: a run folder written by frz_train (or `frozen train`) holds the encoder and the projector.
 *
 *     frz_vision *v; frz_vision_load("run/vision.safetensors", &v);
 *     frz_projector *p; frz_projector_load("run/projector.safetensors", &p);
 *     frz_prompt *pr; frz_prompt_create(lm, v, p, &pr);
 *     frz_prompt_add_image_file(pr, "dax.jpg");                 // n_prefix embedding positions
 *     frz_prompt_add_text(pr, "This is a dax.", (size_t)-1, 0);
 *     frz_prompt_add_image_file(pr, "query.jpg");
 *     frz_prompt_add_text(pr, "Question: What is this? Answer:", (size_t)-1, 0);
 *     int32_t ans[8]; size_t n_ans = 0;
 *     frz_prompt_generate(s, 0, pr, NULL, FRZ_PROMPT_STOP_NEWLINE, ans, 8, &n_ans);   // greedy, to "\n"
 *     frz_prompt_free(pr); frz_projector_free(p); frz_vision_free(v);
 *
 * Conventions
 * -----------
 * - Handles are opaque. Every create/load has a matching free; free(NULL) is a no-op.
 * - Every fallible call returns a frz_status. FRZ_OK is 0. frz_strerror() gives static text for a code;
 *   frz_last_error() gives the calling thread's detailed message for its most recent failure.
 * - The library never calls exit() or abort() and never writes to stdout or stderr. Diagnostics go to the
 *   log callback (frz_set_log_callback), which is silent until the host sets one.
 * - Buffer-filling calls take (buffer, capacity, *needed): they always store the size they need, and return
 *   FRZ_ERR_BUFFER_TOO_SMALL without writing a partial result when the capacity is short.
 * - ABI-safe parameters. Scalar options are set through setters keyed by an enum (frz_session_set_int,
 *   frz_prompt_set_int). Parameter structs begin with a `struct_size` member: call the matching *_init()
 *   macro, which calls *_init_size(p, sizeof *p): it fills only the bytes the caller's struct has and sets
 *   struct_size = sizeof(struct) as the caller compiled it, and the library reads only the members that
 *   existed at that size (so an older program's struct is never written past its end by a newer library).
 *   Bindings that cannot use the macro call *_init_size with their own struct's size. (The plain *_init
 *   functions, still exported, fill the library's whole struct: give them a buffer at least that large.) New members are only ever appended; enum values are never
 *   renumbered. Plain data structs without struct_size (frz_input) are frozen for the life of the ABI major.
 *   The soname (libfrozen.so.MAJOR) changes only when the ABI does; deprecated calls carry FRZ_DEPRECATED for
 *   at least one minor release before a major version removes them (docs/abi.md).
 *
 * Threads and ownership
 * ---------------------
 * The caller owns every handle it creates and frees it with the matching _free. A handle that uses another
 * keeps a pointer to it, never a copy, so the one used must outlive the user: free sessions, prompts and
 * training runs before the model, encoder and projector they use. Per handle (each typedef says the same):
 * - frz_lm: read-only after frz_lm_load; any number of threads may use one model at once (tokenize, detokenize,
 *   sessions, prompts, training). Free it last.
 * - frz_session: owns all per-run state (KV cache, activations, logits, RNG); uses its model. One thread at a
 *   time: create one session per thread.
 * - frz_image: immutable once decoded; threads may share it. Nothing keeps it: free it once encoded.
 * - frz_vision, frz_projector: read-only once created or loaded; any number of threads may encode with them at
 *   once (each call has its own scratch).
 * - frz_prompt: uses its model, encoder and projector. Appending changes it: one thread at a time. Running it
 *   (frz_prompt_eval/_generate/_score) only reads it, so sessions on several threads may run one prompt at
 *   once while nobody appends.
 * - frz_train: one thread at a time (frz_train_run blocks it); uses its model, which other threads may go on
 *   using meanwhile.
 * - FRZ_OPT_THREADS sets how many threads the session's work uses, matrix products and the rest alike: the
 *   session's OpenMP threads split each product and call OpenBLAS single-threaded (OpenBLAS's own worker threads
 *   and OpenMP's would spin against each other). The library therefore sets OpenBLAS's process-wide thread count
 *   to 1; a host that uses OpenBLAS itself should set its own count before its own calls.
 * - frz_last_error() is thread-local; the log callback is process-wide and may be called from any thread.
 *
 * Performance note: OpenBLAS may mis-detect recent CPUs and run a generic kernel (5x slower). frz_blas_advice()
 * says so and names the fix (for example OPENBLAS_CORETYPE=SkylakeX in the environment); docs/performance.md.
 */
#ifndef FROZEN_H
#define FROZEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FRZ_API marks the exported API. Inside the library build FRZ_BUILDING is defined. */
#if defined(_WIN32)
#  if defined(FRZ_BUILDING)
#    define FRZ_API __declspec(dllexport)
#  else
#    define FRZ_API
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define FRZ_API __attribute__((visibility("default")))
#else
#  define FRZ_API
#endif

/* FRZ_DEPRECATED marks an API on its way out (docs/abi.md): it stays for at least one minor release, compilers
 * warn where it is used, and it is removed only with a major (soname) bump. Written after FRZ_API:
 *     FRZ_API FRZ_DEPRECATED frz_status frz_old_call(...);    (the comment above it names the replacement) */
#if defined(__GNUC__) || defined(__clang__)
#  define FRZ_DEPRECATED __attribute__((deprecated))
#elif defined(_MSC_VER)
#  define FRZ_DEPRECATED __declspec(deprecated)
#else
#  define FRZ_DEPRECATED
#endif

/* ------------------------------------------------------------------------------------------------------- */
/* Version. The major number is the ABI major carried by the soname (libfrozen.so.MAJOR).                   */

#define FRZ_VERSION_MAJOR 0
#define FRZ_VERSION_MINOR 1
#define FRZ_VERSION_PATCH 0
#define FRZ_VERSION_STRING "0.1.0"
#define FRZ_VERSION_NUMBER (FRZ_VERSION_MAJOR * 10000 + FRZ_VERSION_MINOR * 100 + FRZ_VERSION_PATCH)

/* The version of the library actually linked at run time (compare with FRZ_VERSION_NUMBER). */
FRZ_API unsigned frz_version_number(void);
FRZ_API const char *frz_version_string(void);

/* ------------------------------------------------------------------------------------------------------- */
/* Status codes and errors                                                                                */

typedef enum frz_status {
    FRZ_OK = 0,
    FRZ_ERR_IO = 1,               /* a file could not be opened, read, mapped or written */
    FRZ_ERR_FORMAT = 2,           /* malformed content: JSON, safetensors header, offsets, merges, ... */
    FRZ_ERR_UNSUPPORTED = 3,      /* well-formed but not supported: dtype, architecture, activation */
    FRZ_ERR_SHAPE = 4,            /* a tensor or argument has the wrong shape */
    FRZ_ERR_INVALID_ARG = 5,      /* a bad argument: NULL handle, out-of-range id or option value */
    FRZ_ERR_NOMEM = 6,            /* an allocation failed */
    FRZ_ERR_CANCELLED = 7,        /* the abort callback asked to stop */
    FRZ_ERR_BUFFER_TOO_SMALL = 8, /* the caller's buffer is short; *needed says how much is required */
    FRZ_ERR_CONTEXT_FULL = 9      /* a sequence would exceed the model's context length */
} frz_status;

/* Static text for a code ("I/O error", ...). Never NULL. */
FRZ_API const char *frz_strerror(frz_status code);

/* The calling thread's detailed message for its most recent failure: the file, tensor, JSON field or byte
 * offset at fault. Empty string if none. Valid until the thread's next failing call. */
FRZ_API const char *frz_last_error(void);

/** Run-time check that the library loaded is one the program's header is compatible with: FRZ_OK when the
 * library has the header's major version and at least its minor version (the patch level does not matter),
 * else FRZ_ERR_UNSUPPORTED with frz_last_error() naming both versions. Call it once at start-up through
 * FRZ_CHECK_VERSION(), which passes the FRZ_VERSION_NUMBER the program was compiled with:
 *
 *     if (FRZ_CHECK_VERSION() != FRZ_OK) { fprintf(stderr, "%s\n", frz_last_error()); return 1; }
 *
 * A newer minor version only adds API (docs/abi.md), so an older header works with a newer library; a program
 * built against a newer header than the library installed may call functions the library lacks. */
FRZ_API frz_status frz_version_check(unsigned header_version);
/** frz_version_check with the FRZ_VERSION_NUMBER of the header the caller is compiled with. */
#define FRZ_CHECK_VERSION() frz_version_check(FRZ_VERSION_NUMBER)

/* ------------------------------------------------------------------------------------------------------- */
/* Logging                                                                                                  */

typedef enum frz_log_level {
    FRZ_LOG_ERROR = 0,
    FRZ_LOG_WARN = 1,
    FRZ_LOG_INFO = 2,
    FRZ_LOG_DEBUG = 3
} frz_log_level;

/* text is one line without a trailing newline, valid only during the call. */
typedef void (*frz_log_fn)(frz_log_level level, const char *text, void *user_data);

/* Process-wide. fn == NULL silences the library (the default). Messages above max_level are not built. */
FRZ_API void frz_set_log_callback(frz_log_fn fn, void *user_data, frz_log_level max_level);

/* ------------------------------------------------------------------------------------------------------- */
/* BLAS                                                                                                     */

/* The OpenBLAS core in use (e.g. "Haswell", "SkylakeX", "Prescott"). Never NULL. */
FRZ_API const char *frz_blas_corename(void);

/* NULL when the BLAS kernel suits this CPU; otherwise static advice naming the fix, e.g. that OpenBLAS runs its
 * generic "Prescott" kernel on a CPU with AVX-512 and OPENBLAS_CORETYPE=SkylakeX would be about 5x faster. */
FRZ_API const char *frz_blas_advice(void);

/* ------------------------------------------------------------------------------------------------------- */
/* The language model (GPT-2 family), frozen: read-only after load, shareable across threads.              */

/** A loaded GPT-2: weights, configuration and tokenizer. Made by frz_lm_load, freed by frz_lm_free after every
 * session, prompt and training run that uses it. Read-only after loading: any number of threads may use one
 * model at once. */
typedef struct frz_lm frz_lm;

/* Loads a Hugging Face GPT-2 folder: config.json, model.safetensors (or model.safetensors.index.json with its
 * shards), vocab.json, merges.txt. F32 weights are used in place from the memory-mapped file; F16 and BF16 are
 * converted to f32 at load. */
FRZ_API frz_status frz_lm_load(const char *dir, frz_lm **out);
FRZ_API void frz_lm_free(frz_lm *lm);

typedef enum frz_lm_prop {
    FRZ_LM_N_LAYER = 0,
    FRZ_LM_N_HEAD = 1,
    FRZ_LM_N_EMBD = 2,     /* D, the width of an embedding vector */
    FRZ_LM_N_VOCAB = 3,
    FRZ_LM_N_CTX = 4,      /* maximum positions */
    FRZ_LM_EOT_TOKEN = 5,  /* id of <|endoftext|>, or -1 if the vocabulary has none */
    FRZ_LM_N_PARAMS = 6
} frz_lm_prop;

/* A model property; -1 for an unknown key or a NULL model. */
FRZ_API int64_t frz_lm_get(const frz_lm *lm, frz_lm_prop prop);

/* ------------------------------------------------------------------------------------------------------- */
/* Tokenizer: GPT-2 byte-level BPE, identical to the GPT-2 reference encoder.                              */

/* Parse "<|endoftext|>" (and other special tokens) in the text as special tokens. Off by default: special
 * token text in user input is ordinary text. */
#define FRZ_TOKENIZE_SPECIAL 1u

/* Encodes len bytes of UTF-8 text (len == (size_t)-1: NUL-terminated). Invalid UTF-8 never fails: each maximal
 * run of invalid bytes is encoded on its own through the byte-level alphabet, and decoding returns the input. *n_ids receives the number of ids; FRZ_ERR_BUFFER_TOO_SMALL if it exceeds cap. */
FRZ_API frz_status frz_tokenize(const frz_lm *lm, const char *text, size_t len, unsigned flags,
                                int32_t *ids, size_t cap, size_t *n_ids);

/* Decodes ids to bytes (UTF-8 unless the ids split a character). *n_bytes receives the length without the NUL;
 * the output is NUL-terminated, so cap must be at least *n_bytes + 1. Ids out of range: FRZ_ERR_INVALID_ARG. */
FRZ_API frz_status frz_detokenize(const frz_lm *lm, const int32_t *ids, size_t n_ids,
                                  char *text, size_t cap, size_t *n_bytes);

/* ------------------------------------------------------------------------------------------------------- */
/* Sessions: per-thread state. A session holds up to FRZ_OPT_MAX_SEQS independent sequences ("slots"), each with
 * its KV cache, so a batch of sequences runs in one call.                                                 */

/** Running state for one model: the sequence slots with their KV caches, activations, logits and the sampling
 * RNG. Made by frz_session_create (it keeps a pointer to the model, which must outlive it), freed by
 * frz_session_free. Used by one thread at a time: create one session per thread. */
typedef struct frz_session frz_session;

FRZ_API frz_status frz_session_create(const frz_lm *lm, frz_session **out);
FRZ_API void frz_session_free(frz_session *s);

typedef enum frz_session_opt {
    FRZ_OPT_THREADS = 0,  /* int, >= 1; default 1 */
    FRZ_OPT_SEED = 1,     /* int, the RNG seed used by sampling; default 0. Setting it reseeds. */
    FRZ_OPT_MAX_SEQS = 2  /* int, number of sequence slots (1..4096); default 1. Changing it clears all. */
} frz_session_opt;

FRZ_API frz_status frz_session_set_int(frz_session *s, frz_session_opt opt, int64_t value);

/* Return non-zero from the abort callback to stop the running call with FRZ_ERR_CANCELLED. It is polled between
 * layers and between generated tokens. A cancelled eval leaves the sequences it touched unchanged. */
typedef int (*frz_abort_fn)(void *user_data);
FRZ_API void frz_session_set_abort(frz_session *s, frz_abort_fn fn, void *user_data);

/* A special token value: this position takes its input from an embedding vector instead of a token id. */
#define FRZ_TOKEN_EMBEDDING (-1)

/* New positions for one sequence slot. Position i is token tokens[i], or, where tokens[i] == FRZ_TOKEN_EMBEDDING
 * (or tokens == NULL), the embedding vector embd[i * n_embd ... + n_embd) used in place of the token
 * embedding. Learned position embeddings are added in both cases. This is how a visual prefix enters the LM. */
typedef struct frz_input {
    int32_t seq;            /* sequence slot, 0 .. FRZ_OPT_MAX_SEQS-1 */
    size_t n;               /* number of new positions (>= 1) */
    const int32_t *tokens;  /* n ids, or NULL when every position is an embedding */
    const float *embd;      /* n * n_embd floats, or NULL when every position is a token */
} frz_input;

typedef enum frz_logits_mode {
    FRZ_LOGITS_LAST = 0,  /* logits of each input's last new position: n_inputs rows */
    FRZ_LOGITS_ALL = 1,   /* logits of every new position: sum of n rows, inputs in order */
    FRZ_LOGITS_NONE = 2   /* none (prefill only); the last position's logits are still kept for generation */
} frz_logits_mode;

/* Appends the inputs to their sequences (each slot at most once per call) and runs the LM over all of them in
 * one batched pass, reusing each sequence's KV cache. FRZ_ERR_CONTEXT_FULL if a sequence would pass n_ctx.
 * n_inputs == 0 does nothing and returns FRZ_OK. */
FRZ_API frz_status frz_session_eval(frz_session *s, const frz_input *inputs, size_t n_inputs,
                                    frz_logits_mode mode);

/* Logits (n_vocab floats) of row `row` of the most recent eval, or NULL if out of range. Valid until the
 * session's next call. */
FRZ_API const float *frz_session_logits(const frz_session *s, size_t row);

/* Number of positions stored for a sequence slot (-1 if out of range). */
FRZ_API int64_t frz_session_seq_len(const frz_session *s, int32_t seq);

/* Shortens a sequence to its first n positions (n = 0 clears it); seq = -1 applies to every slot. n at or past
 * the current length leaves the sequence as it is. */
FRZ_API frz_status frz_session_seq_truncate(frz_session *s, int32_t seq, size_t n);

/* Makes slot dst a copy of slot src: its positions (the KV cache) and its last logits, so that whatever is
 * evaluated, generated or scored next on dst gives bit for bit what it would give on src. dst's previous
 * contents are dropped; src is unchanged; src == dst does nothing. This is how a prompt prefix evaluated once
 * is forked for many continuations (see frz_prompt below). On failure (FRZ_ERR_NOMEM) dst is unchanged. */
FRZ_API frz_status frz_session_seq_copy(frz_session *s, int32_t src, int32_t dst);

/* ------------------------------------------------------------------------------------------------------- */
/* Generation and scoring                                                                                  */

/* Called after each generated token; return non-zero to stop generation (not an error). */
typedef int (*frz_token_fn)(int32_t token, void *user_data);

typedef struct frz_generate_params {
    size_t struct_size;       /* set by frz_generate_params_init */
    int32_t max_tokens;       /* stop after this many new tokens; default 64 */
    float temperature;        /* <= 0: greedy (default 0) */
    int32_t top_k;            /* keep the k most likely tokens; 0: off (default) */
    float top_p;              /* nucleus: smallest set with mass >= top_p; 1: off (default) */
    int stop_at_eot;          /* stop at <|endoftext|> (not included in the output); default 1 */
    const char *const *stop;  /* stop strings (UTF-8); generation stops once the text contains one */
    size_t n_stop;
    frz_token_fn on_token;    /* optional streaming callback */
    void *on_token_data;
} frz_generate_params;

FRZ_API void frz_generate_params_init(frz_generate_params *p);
FRZ_API void frz_generate_params_init_size(frz_generate_params *p, size_t size);
#define frz_generate_params_init(p) frz_generate_params_init_size((p), sizeof *(p))

/* Continues sequence `seq` from its current state (which must hold at least one position, fed by
 * frz_session_eval). Writes at most cap new ids to out and their count to *n_out; the generated tokens are
 * appended to the sequence. When a stop string is hit, the output ends before the token in which the stop string
 * begins, so the decoded output never contains it. Sampling draws from the session's RNG (FRZ_OPT_SEED): the same
 * seed, prompt and parameters give the same output. Stops early without error at the context limit.
 * Stop strings need the model's tokenizer (FRZ_ERR_INVALID_ARG without one). When the abort callback stops it,
 * it returns FRZ_ERR_CANCELLED and *n_out, out and the sequence hold exactly the tokens already passed to
 * on_token. */
FRZ_API frz_status frz_generate(frz_session *s, int32_t seq, const frz_generate_params *params,
                                int32_t *out, size_t cap, size_t *n_out);

/* Natural-log probability of the continuation tokens given sequence `seq`'s current state (at least one
 * position). token_logprobs (n_cont floats) may be NULL; *total receives the sum. The sequence is left as it
 * was: the continuation is not kept in the cache. */
FRZ_API frz_status frz_score(frz_session *s, int32_t seq, const int32_t *cont, size_t n_cont,
                             float *token_logprobs, double *total);


/* ======================================================================================================= */
/* Issue 3: images, the vision encoder, the visual prefix, captioning and training.                        */
/*                                                                                                           */
/*     frz_vision *v; frz_vision_load("run/vision.safetensors", &v);       // NF-ResNet encoder              */
/*     frz_projector *p; frz_projector_load("run/projector.safetensors", &p);                               */
/*     frz_image *img; frz_image_load_file("cat.jpg", &img);                                                */
/*     float prefix[2 * 768]; size_t need;                                                                  */
/*     frz_image_prefix(v, p, img, 2, prefix, 2 * 768, &need);             // n_prefix x n_embd floats      */
/*     int32_t toks[2] = { FRZ_TOKEN_EMBEDDING, FRZ_TOKEN_EMBEDDING };                                      */
/*     frz_input in = { 0, 2, toks, prefix };  frz_session_eval(s, &in, 1, FRZ_LOGITS_NONE);                */
/*     ... then text tokens, frz_generate, or simply frz_caption(s, 0, v, p, img, 20, text, cap, &len).    */
/* ------------------------------------------------------------------------------------------------------- */

/* ---- images: PNG and JPEG decoded to 8-bit RGB ---------------------------------------------------------- */

/** A decoded image, 8-bit RGB. Made by frz_image_load_file, frz_image_load_memory or frz_image_from_rgb8 (each
 * copies what it reads), freed by frz_image_free; nothing else keeps a pointer to it. Immutable: threads may
 * share it. */
typedef struct frz_image frz_image;

/* Decodes a PNG or JPEG file; the format is told by its signature, never by the name. PNG: every colour type
 * and bit depth, interlaced too; JPEG: baseline, progressive, grayscale, CMYK. Alpha is composited on black;
 * 16-bit samples are rounded to 8 bits; EXIF orientation and colour profiles are ignored (as Pillow).
 * FRZ_ERR_IO: the file cannot be read. FRZ_ERR_FORMAT: empty, corrupt or truncated data, or not an image (the
 * message names the input and why). FRZ_ERR_UNSUPPORTED: GIF, BMP, WebP, TIFF, 12-bit or lossless JPEG, or an
 * image over the limits (32768 pixels a side, 64 megapixels), refused from its header before pixel memory is
 * allocated. *out is NULL on failure. An image is immutable: threads may share it. */
FRZ_API frz_status frz_image_load_file(const char *path, frz_image **out);
/* The same from len bytes in memory (not kept). name (may be NULL) names the input in messages. */
FRZ_API frz_status frz_image_load_memory(const void *data, size_t len, const char *name, frz_image **out);
/* Copies caller pixels: height rows of width * 3 bytes (R, G, B), row r at pixels + r * stride
 * (stride >= 3 * width). The size limits apply. */
FRZ_API frz_status frz_image_from_rgb8(const uint8_t *pixels, int32_t width, int32_t height, size_t stride,
                                       frz_image **out);
FRZ_API void frz_image_free(frz_image *img);
/* 0 for NULL. */
FRZ_API int32_t frz_image_width(const frz_image *img);
FRZ_API int32_t frz_image_height(const frz_image *img);
/* The pixels, (height, width, 3) bytes, rows tightly packed; NULL for NULL. Valid until frz_image_free. */
FRZ_API const uint8_t *frz_image_pixels(const frz_image *img);

/* ---- the vision encoder: NF-ResNet (Brock et al. 2021) as timm defines it ------------------------------------
 * An image enters the encoder as the paper prepares it: zero-padded (black) to a centred square, resized to
 * image_size x image_size with an antialiasing bilinear filter (Pillow's), then normalised per channel as
 * (v / 255 - mean) / std with ImageNet's mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). The output
 * is the pooled vector after the last stage (relu, global average pooling): 2048 floats for nf_resnet50 at
 * width 1. An encoder is read-only once created or loaded: any number of threads may encode with one at once.
 * It keeps the working memory of one encode for the next (activations, and its convs' standardised weights,
 * computed on the first encode: about the size of the weights plus one image's activations, freed with the
 * encoder); a call that finds it in use by another thread allocates its own for the call. */

/** The vision encoder (NF-ResNet). Made by frz_vision_create or frz_vision_load, freed by frz_vision_free after
 * the prompts that use it. Read-only once made: any number of threads may encode with one at once. */
typedef struct frz_vision frz_vision;

/* A new encoder, initialised as timm initialises it (He-normal convs, skip-init gains 0), deterministic for
 * seed. arch: "nf_resnet50" (depths 3,4,6,3: the paper's), "nf_resnet26" (2,2,2,2) or "tiny" (2,1,1,2, for
 * tests and CPU experiments). width multiplies every channel count (> 0; 1 is timm's network). image_size:
 * the side images are resized to (16..4096; the paper: 224). FRZ_ERR_INVALID_ARG for an unknown arch or a
 * size out of range. */
FRZ_API frz_status frz_vision_create(const char *arch, float width, int32_t image_size, uint64_t seed,
                                     frz_vision **out);
/* Reads a file written by frz_vision_save: timm's tensor names ("stem.conv.weight", "stages.0.0.conv1.gain",
 * ...), the architecture and the image size in "__metadata__". Errors name the file and the tensor or key. */
FRZ_API frz_status frz_vision_load(const char *path, frz_vision **out);
/* Writes the encoder as F32 safetensors, atomically (a temporary file renamed over path). */
FRZ_API frz_status frz_vision_save(const frz_vision *v, const char *path);
FRZ_API void frz_vision_free(frz_vision *v);

typedef enum frz_vision_prop {
    FRZ_VISION_N_FEATURES = 0, /* F, floats of the pooled vector */
    FRZ_VISION_IMAGE_SIZE = 1, /* the side images are resized to */
    FRZ_VISION_N_PARAMS = 2
} frz_vision_prop;

/* A property; -1 for an unknown key or a NULL encoder. */
FRZ_API int64_t frz_vision_get(const frz_vision *v, frz_vision_prop prop);

/* Encodes one image into pooled (F floats), using n_threads threads (>= 1). Buffer protocol: *needed = F;
 * FRZ_ERR_BUFFER_TOO_SMALL (nothing written) when cap < F. */
FRZ_API frz_status frz_vision_encode(const frz_vision *v, const frz_image *img, int32_t n_threads, float *pooled,
                                     size_t cap, size_t *needed);

/* ---- the visual prefix: one linear layer, pooled vector (F) -> n_prefix embeddings of the LM's width D -------
 * prefix = pooled @ weight^T + bias, weight (n_prefix * D, F) and bias (n_prefix * D) as nn.Linear keeps them;
 * the output is n_prefix consecutive rows of D floats. Read-only once created or loaded (shareable). */

/** The projector from the encoder's pooled vector to the visual prefix. Made by frz_projector_create or
 * frz_projector_load, freed by frz_projector_free after the prompts that use it. Read-only once made: threads
 * may share it. */
typedef struct frz_projector frz_projector;

/* A new projector, initialised as nn.Linear (uniform in +-1/sqrt(F)), deterministic for seed. Sizes 1..65536
 * each (FRZ_ERR_INVALID_ARG otherwise). */
FRZ_API frz_status frz_projector_create(int32_t n_features, int32_t n_prefix, int32_t n_embd, uint64_t seed,
                                        frz_projector **out);
/* Safetensors with tensors "projector.weight" and "projector.bias" and the sizes in "__metadata__". */
FRZ_API frz_status frz_projector_load(const char *path, frz_projector **out);
FRZ_API frz_status frz_projector_save(const frz_projector *p, const char *path);
FRZ_API void frz_projector_free(frz_projector *p);

typedef enum frz_projector_prop {
    FRZ_PROJECTOR_N_FEATURES = 0, /* F, the input width (the encoder's FRZ_VISION_N_FEATURES) */
    FRZ_PROJECTOR_N_PREFIX = 1,   /* n, embeddings per image (the paper: 2) */
    FRZ_PROJECTOR_N_EMBD = 2,     /* D, the LM's FRZ_LM_N_EMBD */
    FRZ_PROJECTOR_N_PARAMS = 3
} frz_projector_prop;

/* A property; -1 for an unknown key or a NULL projector. */
FRZ_API int64_t frz_projector_get(const frz_projector *p, frz_projector_prop prop);

/* embd (n_prefix * D floats) from pooled (F floats). Buffer protocol with *needed = n_prefix * D. */
FRZ_API frz_status frz_projector_apply(const frz_projector *p, const float *pooled, float *embd, size_t cap,
                                       size_t *needed);

/* Encoder, then projector: the image's n_prefix embeddings, ready to enter frz_session_eval as
 * FRZ_TOKEN_EMBEDDING positions. FRZ_ERR_SHAPE if the projector's F is not the encoder's. Buffer protocol with
 * *needed = n_prefix * D. Thread-safe for shared encoder and projector. */
FRZ_API frz_status frz_image_prefix(const frz_vision *v, const frz_projector *p, const frz_image *img,
                                    int32_t n_threads, float *embd, size_t cap, size_t *needed);

/* Greedy caption of an image: clears sequence slot seq of the session, feeds the image's prefix, generates up
 * to max_tokens tokens until <|endoftext|>, and writes the text (NUL-terminated, without the end token) to
 * text. *n_bytes receives its length without the NUL; cap must be at least *n_bytes + 1, else
 * FRZ_ERR_BUFFER_TOO_SMALL (nothing written; the sequence keeps the prefix and the caption). Uses the session's
 * FRZ_OPT_THREADS and its abort callback. FRZ_ERR_SHAPE when the projector's D is not the LM's width or its F
 * is not the encoder's. */
FRZ_API frz_status frz_caption(frz_session *s, int32_t seq, const frz_vision *v, const frz_projector *p,
                               const frz_image *img, int32_t max_tokens, char *text, size_t cap, size_t *n_bytes);

/* ---- training: the encoder and the projector learn captioning through the frozen LM ---------------------------
 * Each example becomes the sequence [prefix (n_prefix embeddings)][caption tokens] whose targets are the
 * caption tokens and a final <|endoftext|>; the loss is their mean cross-entropy. Gradients flow through the
 * LM (never written) into the projector and the encoder, which Adam updates. Data: a TSV file (one example per
 * line: image path TAB caption; relative paths are relative to the file's folder) or a COCO captions JSON
 * (images[].id/file_name, annotations[].image_id/caption). A file whose first non-blank byte is '{' is COCO.
 *
 * The run folder receives:
 *   vision.safetensors, projector.safetensors   the model `frozen caption` loads: the best by validation
 *                                               perplexity when validation runs, else the latest
 *   checkpoint.safetensors   everything needed to resume: encoder, projector, Adam moments, step, epoch, best
 *                            validation perplexity, patience, skipped images (written atomically)
 *   metrics.csv              step,epoch,loss,val_ppl,images_per_s,lr (val_ppl empty when not measured)
 *   loss.png                 the training loss per step (line) and validation loss ln(ppl) (dots)
 * Same data, parameters, seed and n_threads give the same losses; a resumed run gives the losses the
 * uninterrupted run would have given. An image that fails to decode is skipped (its slot left out of the
 * loss), counted and logged as a warning; it never stops the run.
 * A frz_train is used by one thread; the LM is only read, so other threads may use it meanwhile. */

/** A training run: data, encoder, projector, optimiser state and the run folder. Made by frz_train_create (it
 * keeps a pointer to the model, which must outlive it), freed by frz_train_free. Used by one thread at a time;
 * other threads may use the model meanwhile. */
typedef struct frz_train frz_train;

typedef struct frz_train_progress {
    size_t struct_size;       /* filled in by the library: the size it wrote */
    int64_t step;             /* optimisation steps done (1 after the first) */
    int64_t total_steps;      /* the planned number of steps */
    int64_t steps_per_epoch;
    int32_t epoch;            /* 0-based epoch of the latest step */
    float loss;               /* that step's mean cross-entropy (nats per token) */
    float lr;                 /* learning rate used */
    double images_per_s;      /* over that step, loading wait included */
    double val_ppl;           /* validation perplexity measured after that step; 0 if none was */
    double best_val_ppl;      /* best so far; 0 before the first validation */
    int64_t skipped_images;   /* images that failed to decode so far (resumed runs count earlier ones) */
    int64_t n_train, n_val;   /* examples in the training and validation splits */
    double elapsed_s;         /* seconds frz_train_run has been running */
} frz_train_progress;

/* Called on the thread running frz_train_run after every step (after its validation, if any). */
typedef void (*frz_train_progress_fn)(const frz_train_progress *progress, void *user_data);

typedef struct frz_train_params {
    size_t struct_size;          /* set by frz_train_params_init */
    const char *vision_arch;     /* "nf_resnet50" (default), "nf_resnet26", "tiny" */
    float vision_width;          /* channel width factor; default 1 */
    int32_t image_size;          /* default 224 */
    int32_t prefix_tokens;       /* n; default 2 */
    int32_t batch_size;          /* examples per optimisation step; default 128 (the paper's) */
    int32_t micro_batch;         /* examples per forward/backward pass, dividing batch_size: the gradients of
                                  * the parts are summed, weighted by their targets, into the batch's gradient,
                                  * so memory follows micro_batch and the result batch_size. 0 (default): all */
    float lr;                    /* Adam learning rate; default 3e-4, constant unless lr_decay is set */
    float beta1, beta2;          /* default 0.9, 0.95 */
    float adam_eps;              /* default 1e-8 */
    float weight_decay;          /* decoupled (AdamW), on every parameter; default 0 */
    float grad_clip;             /* clip the global gradient norm to this; 0 (default): off */
    int32_t epochs;              /* default 1 */
    int64_t max_steps;           /* > 0: stop after this many steps, epochs notwithstanding; default 0 */
    float val_fraction;          /* share of the images held out for validation, 0..0.5; default 0.01 */
    int32_t val_every;           /* steps between validations; 0 (default): once per epoch. Also at the end */
    int32_t patience;            /* stop after this many validations without a new best; 0: never. Default 3 */
    int32_t max_caption_tokens;  /* captions are cut to this many tokens (before the end token); default 32 */
    int32_t checkpoint_every;    /* steps between checkpoints; 0 (default): after each validation. Also at the
                                  * end and when the abort callback stops the run */
    int blind;                   /* 1: every image is black (the paper's blind baseline); default 0 */
    int resume;                  /* 1: continue from the run folder's checkpoint; default 0 */
    uint64_t seed;               /* initialisation, split and shuffles; default 0 */
    int32_t n_threads;           /* default 1 */
    const char *image_dir;       /* COCO: the images' folder; NULL (default): the JSON file's folder */
    frz_train_progress_fn progress;
    void *progress_data;
    frz_abort_fn abort;          /* polled between steps and between validation batches */
    void *abort_data;
    /* Baselines of the paper (appended in 0.1; see "Training the language model" below): */
    int32_t lm_mode;             /* FRZ_TRAIN_LM_FROZEN (default): the LM is only read, no memory for its
                                  * gradients; FRZ_TRAIN_LM_FINETUNE: its weights are trained too, from the loaded
                                  * values (Frozen_finetuned); FRZ_TRAIN_LM_SCRATCH: re-initialised randomly (GPT-2
                                  * init, the loaded model's sizes) and trained with the rest (Frozen_scratch).
                                  * Both save the trained LM as a Hugging Face folder out_dir/lm/ (the best by
                                  * validation, like vision.safetensors) and keep its weights and AdamW moments in
                                  * the checkpoint */
    float lm_lr;                 /* the LM's AdamW learning rate; 0 (default): 1e-5 for FINETUNE, lr for SCRATCH.
                                  * The LM takes weight_decay on its matrices only */
    /* Appended in 0.1, after the baselines: */
    float lr_decay;              /* share of the planned steps, at their end, over which the learning rates
                                  * (lr and lm_lr) fall linearly towards 0: step s of S uses
                                  * lr * (1 - (s-1)/S) / lr_decay once (s-1)/S >= 1 - lr_decay, lr before.
                                  * 0 (default): constant throughout, as in the paper. In [0, 1] */
} frz_train_params;

typedef enum frz_train_lm_mode {
    FRZ_TRAIN_LM_FROZEN = 0,
    FRZ_TRAIN_LM_FINETUNE = 1,
    FRZ_TRAIN_LM_SCRATCH = 2
} frz_train_lm_mode;

FRZ_API void frz_train_params_init(frz_train_params *p);
FRZ_API void frz_train_params_init_size(frz_train_params *p, size_t size);
#define frz_train_params_init(p) frz_train_params_init_size((p), sizeof *(p))

/* Reads the data, splits it, and creates the encoder and projector (or, with resume, reads them and the
 * optimiser state from out_dir/checkpoint.safetensors, whose settings must match). out_dir is created if
 * missing; without resume it must not already hold a checkpoint (FRZ_ERR_INVALID_ARG). The LM must outlive
 * the handle. Data errors name the file and the line (TSV) or the JSON field. */
FRZ_API frz_status frz_train_create(const frz_lm *lm, const char *data_path, const char *out_dir,
                                    const frz_train_params *params, frz_train **out);
/* Trains until the epochs or max_steps are done or early stopping ends it: FRZ_OK. When the abort callback
 * asks, it writes a checkpoint of the last completed step and returns FRZ_ERR_CANCELLED; a failed write of any
 * file leaves the previous version in place. */
FRZ_API frz_status frz_train_run(frz_train *t);
/* The latest progress. out->struct_size must be set by the caller (sizeof its struct); the members both the
 * caller and this library know are filled and struct_size is set to their extent (a newer, longer struct keeps
 * its extra members untouched). */
FRZ_API frz_status frz_train_get_progress(const frz_train *t, frz_train_progress *out);
FRZ_API void frz_train_free(frz_train *t);

/* ======================================================================================================= */
/* Issue 4: prompts that interleave text, images and embedding vectors; running them; prompt caching.     */
/*                                                                                                           */
/*     frz_prompt *pr; frz_prompt_create(lm, v, p, &pr);          // v, p: encoder and projector (or NULL) */
/*     frz_prompt_add_image_file(pr, "a.jpg");                     // its n_prefix embedding positions      */
/*     frz_prompt_add_text(pr, "This is a dax.", (size_t)-1, 0);                                            */
/*     frz_prompt_add_image_file(pr, "q.jpg");                                                              */
/*     frz_prompt_add_text(pr, "Question: What is this? Answer:", (size_t)-1, 0);                           */
/*     frz_session_seq_truncate(s, 0, 0);                          // a prompt appends to what a slot holds */
/*     int32_t out[8]; size_t n = 0;                                                                        */
/*     frz_prompt_generate(s, 0, pr, NULL, FRZ_PROMPT_STOP_NEWLINE, out, 8, &n);   // greedy, to "\n"/EOT  */
/*     frz_prompt_free(pr);                                                                                 */
/*                                                                                                           */
/* Prompt caching: evaluate the part many queries share once, then fork it per query:                      */
/*     frz_prompt_eval(s, 0, support, FRZ_LOGITS_NONE);                        // once                     */
/*     for each query: frz_session_seq_copy(s, 0, 1);                          // or truncate slot 0 back  */
/*                     frz_prompt_generate(s, 1, query, &gp, flags, out, cap, &n);                          */
/* A forked slot gives bit for bit what evaluating the support and then the query in a fresh slot gives.    */
/* Evaluating support and query in ONE call instead may differ in the last bits (BLAS results of a row can   */
/* depend on how many rows a product has; measured differences are a few 1e-7 relative to the logits'       */
/* scale, docs/prompting.md), so compare cached and uncached runs with the same split.                      */
/* ------------------------------------------------------------------------------------------------------- */

/** A sequence of text, image and embedding segments, held as token ids and embedding vectors. Made by
 * frz_prompt_create (it keeps pointers to the model and to the encoder and projector given, which must outlive
 * it), freed by frz_prompt_free. Appending and clearing change it: one thread at a time. Running it only reads
 * it: sessions on several threads may run one prompt at once while nobody changes it. */
typedef struct frz_prompt frz_prompt;

/* A new, empty prompt for lm. v and p (both or neither may be NULL) encode images appended without an encoder
 * of their own (frz_prompt_add_image_with). The handles must outlive the prompt; the prompt only reads them. */
FRZ_API frz_status frz_prompt_create(const frz_lm *lm, const frz_vision *v, const frz_projector *p,
                                     frz_prompt **out);
FRZ_API void frz_prompt_free(frz_prompt *pr);
/* Removes every segment (options and handles stay). NULL is a no-op. */
FRZ_API void frz_prompt_clear(frz_prompt *pr);

typedef enum frz_prompt_opt {
    FRZ_PROMPT_OPT_THREADS = 0, /* int, >= 1: threads that encode images; default 1 */
    FRZ_PROMPT_OPT_BLIND = 1    /* int, 0/1: every image appended afterwards becomes a black image of its encoder
                                 * (the paper's blind baseline); the image itself is still read, so a bad file is
                                 * still an error. Default 0 */
} frz_prompt_opt;

FRZ_API frz_status frz_prompt_set_int(frz_prompt *pr, frz_prompt_opt opt, int64_t value);

/* Appending. Each call appends one segment after the previous ones, and its positions follow theirs: position
 * embeddings run on through images as through text. On failure the prompt is unchanged. A prompt never holds
 * more positions than the LM's context: an append that would pass it fails with FRZ_ERR_CONTEXT_FULL, and the
 * message says by how many positions. */

/* Text, tokenized on its own (len bytes, or (size_t)-1: NUL-terminated; flags as frz_tokenize). Adjacent text
 * segments are not merged: "a" then "b" gives tokens(a) followed by tokens(b), which may differ from
 * tokens("ab"). No space is added. Empty text appends nothing (and no segment). */
FRZ_API frz_status frz_prompt_add_text(frz_prompt *pr, const char *text, size_t len, unsigned flags);

/* An image, encoded now (encoder, then projector: frz_image_prefix) into n_prefix embedding positions, with
 * the prompt's encoder and projector. FRZ_ERR_INVALID_ARG if the prompt has none; FRZ_ERR_SHAPE if the
 * projector's width is not the LM's or its input is not the encoder's output. The image is not kept. */
FRZ_API frz_status frz_prompt_add_image(frz_prompt *pr, const frz_image *img);
/* The same with another encoder and projector for this image only. */
FRZ_API frz_status frz_prompt_add_image_with(frz_prompt *pr, const frz_image *img, const frz_vision *v,
                                             const frz_projector *p);
/* Conveniences: decode (frz_image_load_file / _memory / frz_image_from_rgb8) then frz_prompt_add_image. */
FRZ_API frz_status frz_prompt_add_image_file(frz_prompt *pr, const char *path);
FRZ_API frz_status frz_prompt_add_image_memory(frz_prompt *pr, const void *data, size_t len, const char *name);
FRZ_API frz_status frz_prompt_add_image_rgb8(frz_prompt *pr, const uint8_t *pixels, int32_t width,
                                             int32_t height, size_t stride);

/* n raw embedding vectors (embd: n * n_embd floats, copied), one position each, used in place of token
 * embeddings (position embeddings are still added, as for every position). */
FRZ_API frz_status frz_prompt_add_embeddings(frz_prompt *pr, const float *embd, size_t n);

/* Reading back. */

/* Number of positions (0 for NULL). */
FRZ_API size_t frz_prompt_len(const frz_prompt *pr);
/* The token id of every position, FRZ_TOKEN_EMBEDDING at image and embedding positions. Buffer protocol:
 * *n = frz_prompt_len; FRZ_ERR_BUFFER_TOO_SMALL (nothing written) when cap is short. */
FRZ_API frz_status frz_prompt_tokens(const frz_prompt *pr, int32_t *ids, size_t cap, size_t *n);
/* The n_embd floats that enter position pos in place of a token embedding, or NULL at a token position or out
 * of range. Valid until the prompt next changes. */
FRZ_API const float *frz_prompt_embedding(const frz_prompt *pr, size_t pos);

typedef enum frz_prompt_seg_kind {
    FRZ_PROMPT_SEG_TEXT = 0,
    FRZ_PROMPT_SEG_IMAGE = 1,
    FRZ_PROMPT_SEG_EMBEDDING = 2
} frz_prompt_seg_kind;

/* Number of segments (0 for NULL). */
FRZ_API size_t frz_prompt_n_segments(const frz_prompt *pr);
/* Segment i (in append order): its kind and its positions [*start, *start + *n). Any out pointer may be NULL.
 * FRZ_ERR_INVALID_ARG when i is out of range. */
FRZ_API frz_status frz_prompt_segment(const frz_prompt *pr, size_t i, frz_prompt_seg_kind *kind, size_t *start,
                                      size_t *n);

/* Running. A prompt is appended to what sequence slot seq already holds (truncate the slot to 0 to start
 * afresh): that is what lets a slot holding a shared support set, or a copy of one, take each query. The
 * prompt is only read: one prompt may be run on many slots and sessions. FRZ_ERR_CONTEXT_FULL, saying by how
 * many positions, when the slot's positions plus the prompt's would pass the context (nothing is evaluated). */

/* Evaluates (prefills) the whole prompt in one frz_session_eval call; mode as there. An empty prompt is
 * FRZ_ERR_INVALID_ARG. */
FRZ_API frz_status frz_prompt_eval(frz_session *s, int32_t seq, const frz_prompt *pr, frz_logits_mode mode);
/* Evaluates positions [first, first + n) only (n >= 1, within the prompt), in one call: for running a prompt
 * in parts, e.g. its shared prefix once and the rest per fork. */
FRZ_API frz_status frz_prompt_eval_range(frz_session *s, int32_t seq, const frz_prompt *pr, size_t first,
                                         size_t n, frz_logits_mode mode);

/* Also stop at a newline (the output ends before the token holding it, as for a stop string). */
#define FRZ_PROMPT_STOP_NEWLINE 1u

/* Evaluates pr on slot seq (pr == NULL: nothing, the slot is continued as it stands), then frz_generate with
 * params (NULL: the defaults, greedy, 64 tokens, stop at <|endoftext|>) plus the flags. out, cap, *n_out and the
 * sequence afterwards are as for frz_generate. */
FRZ_API frz_status frz_prompt_generate(frz_session *s, int32_t seq, const frz_prompt *pr,
                                       const frz_generate_params *params, unsigned flags, int32_t *out, size_t cap,
                                       size_t *n_out);

/* Evaluates pr on slot seq (NULL: nothing), then the natural-log probability of each candidate continuation
 * (UTF-8 text, each tokenized on its own, e.g. " dax") given the slot: logprobs[i] for candidates[i]. An empty
 * candidate scores 0. The candidates are not kept: the slot ends holding what it held plus the prompt. */
FRZ_API frz_status frz_prompt_score(frz_session *s, int32_t seq, const frz_prompt *pr,
                                    const char *const *candidates, size_t n_candidates, double *logprobs);

/* ======================================================================================================= */
/* Issue 5: training a byte-level BPE tokenizer (GPT-2 format) on a text corpus.                           */
/*                                                                                                         */
/*     frz_tokenizer_train_params tp; frz_tokenizer_train_params_init(&tp);                                */
/*     tp.vocab_size = 4096;                                                                               */
/*     frz_tokenizer_train("corpus.txt", "models/my-lm", &tp, NULL);   // writes vocab.json, merges.txt    */
/*                                                                                                         */
/* The corpus is pre-tokenized with GPT-2's pattern exactly as frz_tokenize splits text (invalid UTF-8     */
/* included: maximal invalid runs are words of their own) and the words are counted. Training starts from  */
/* the 256 byte symbols and repeatedly merges the adjacent pair with the highest count (each occurrence    */
/* in each word, weighted by the word's count). Ties go to the pair whose merged bytes are                 */
/* lexicographically smallest (unsigned bytes, a prefix before its extensions), then to the one with the   */
/* shorter left part. A merge is applied to every word, left to right without overlap. Training stops      */
/* when the vocabulary holds vocab_size entries (the 256 bytes, one per distinct merged string, and        */
/* <|endoftext|>, which takes the last id as in GPT-2) or when no pair occurs min_frequency times. A       */
/* merged string can arise from two different pairs ("ab"+"c", "a"+"bc"): both merges are listed, and the  */
/* token has one id. Ids: the bytes first, in GPT-2's order (that of their characters in the byte-level    */
/* alphabet), then new tokens in the order they were made. Same corpus and parameters give byte-identical  */
/* files, whatever n_threads.                                                                              */
/* Output (the folder is created if missing; each file written atomically, a temporary renamed over it):   */
/*   vocab.json   {"token": id, ...} by id, GPT-2's style (", ", ": ", non-ASCII escaped as by json.dumps) */
/*   merges.txt   "#version: 0.2", then one merge "left right" per line by rank, newline-terminated        */
/* ------------------------------------------------------------------------------------------------------- */

typedef struct frz_tokenizer_train_params {
    size_t struct_size;       /* set by frz_tokenizer_train_params_init */
    int32_t vocab_size;       /* entries in vocab.json, <|endoftext|> included; >= 257. Default 50257 (GPT-2's) */
    int32_t min_frequency;    /* >= 1: a pair occurring fewer times is never merged. Default 2 */
    int32_t n_threads;        /* threads that pre-tokenize and count the corpus. Default 1 */
    int tab_segments;         /* 1: TAB and line ends separate segments, each pre-tokenized on its own; the
                               * separators are not text (the layout of `frozen pretrain --tab-segments`
                               * corpora). 0 (default): the whole file is one text, line ends included */
    frz_abort_fn abort;       /* polled while counting and between merges: FRZ_ERR_CANCELLED, nothing written */
    void *abort_data;
} frz_tokenizer_train_params;

/* What a training run did. The caller sets struct_size (sizeof its struct); the library fills what fits. */
typedef struct frz_tokenizer_train_stats {
    size_t struct_size;
    int64_t n_bytes;          /* corpus size */
    int64_t n_words;          /* pre-tokens counted */
    int64_t n_unique_words;
    int32_t n_merges;         /* lines in merges.txt after the version line */
    int32_t n_vocab;          /* entries in vocab.json */
    int64_t last_count;       /* how often the last merged pair occurred (0 without merges) */
    double count_s;           /* seconds reading, pre-tokenizing and counting */
    double merge_s;           /* seconds learning merges and writing the files */
} frz_tokenizer_train_stats;

FRZ_API void frz_tokenizer_train_params_init(frz_tokenizer_train_params *p);
FRZ_API void frz_tokenizer_train_params_init_size(frz_tokenizer_train_params *p, size_t size);
#define frz_tokenizer_train_params_init(p) frz_tokenizer_train_params_init_size((p), sizeof *(p))

/* Trains on the corpus file (params NULL: the defaults) and writes out_dir/vocab.json and out_dir/merges.txt.
 * stats may be NULL. FRZ_ERR_IO names a file that cannot be read or written; FRZ_ERR_FORMAT an empty corpus
 * (or one of separators only); FRZ_ERR_INVALID_ARG a bad parameter (vocab_size below 257, ...). */
FRZ_API frz_status frz_tokenizer_train(const char *corpus_path, const char *out_dir,
                                       const frz_tokenizer_train_params *params, frz_tokenizer_train_stats *stats);

/* ======================================================================================================= */
/* Issue 5: training the language model -- random GPT-2 models, saving Hugging Face folders, pretraining.  */
/*                                                                                                           */
/*     frz_lm_config c; frz_lm_config_init(&c);                    // 4 layers, 4 heads, width 128, ctx 256   */
/*     frz_lm *lm; frz_lm_create_random(&c, "tok/", 1, &lm);       // vocab.json + merges.txt from tok/       */
/*     frz_pretrain_params p; frz_pretrain_params_init(&p);                                                   */
/*     p.steps = 2000; p.n_threads = 2;                                                                        */
/*     frz_pretrain *t; frz_pretrain_create(lm, "corpus.txt", "out/", &p, &t);                                */
/*     frz_pretrain_run(t);                                        // writes out/ (HF folder), metrics, plot  */
/*     frz_pretrain_free(t); frz_lm_free(lm);                                                                 */
/* ------------------------------------------------------------------------------------------------------- */

typedef struct frz_lm_config {
    size_t struct_size;   /* set by frz_lm_config_init */
    int32_t n_layer;      /* default 4 */
    int32_t n_head;       /* default 4; must divide n_embd */
    int32_t n_embd;       /* default 128 */
    int32_t n_ctx;        /* positions (n_positions); default 256 */
    int32_t n_inner;      /* MLP width; 0 (default): 4 n_embd */
    int32_t reserved0;    /* never read: 0.1's struct ended in these 4 bytes of padding, which its struct_size
                           * covers, so no member may live here (docs/abi.md) */
    int32_t untied_head;  /* 0 (default): the LM head is wte, as in GPT-2; 1: a head of its own (lm_head.weight,
                           * tie_word_embeddings false), which keeps tokens that are interchangeable as outputs
                           * (names a context binds) apart as inputs -- docs/demo-run.md */
} frz_lm_config;

FRZ_API void frz_lm_config_init(frz_lm_config *c);
FRZ_API void frz_lm_config_init_size(frz_lm_config *p, size_t size);
#define frz_lm_config_init(p) frz_lm_config_init_size((p), sizeof *(p))

/* A GPT-2 (gelu_new, LayerNorm eps 1e-5, scaled attention, LM head tied to wte unless untied_head) with GPT-2's
 * initialisation: every matrix and embedding N(0, 0.02) (an untied head too, drawn after the rest, so a tied
 * model's weights do not depend on the option), the residual projections (attn.c_proj, mlp.c_proj) N(0, 0.02 /
 * sqrt(2 n_layer)), biases 0, LayerNorm weights 1 and biases 0; the same seed gives the same weights. The
 * tokenizer is tokenizer_dir/vocab.json + merges.txt, and vocab_size is its number of ids. The model's weights
 * are its own (writable by the training calls below); frz_lm_save writes it out. Bad sizes: FRZ_ERR_INVALID_ARG
 * naming the member. */
FRZ_API frz_status frz_lm_create_random(const frz_lm_config *cfg, const char *tokenizer_dir, uint64_t seed,
                                        frz_lm **out);

/* Writes the model as a Hugging Face GPT-2 folder that frz_lm_load reads back bit for bit: config.json (the
 * fields GPT2Config writes for GPT2LMHeadModel), model.safetensors (F32, the hub's names "wte.weight",
 * "h.0.attn.c_attn.weight", ...; a tied head is not stored), vocab.json and merges.txt copied from the folder
 * the tokenizer came from. dir is created if missing (not its parents). Each file is written atomically.
 * FRZ_ERR_IO naming the path; FRZ_ERR_INVALID_ARG for a model without a tokenizer. */
FRZ_API frz_status frz_lm_save(const frz_lm *lm, const char *dir);

/* Pretraining (next-token prediction) of a model's weights on a text corpus: AdamW (decoupled weight decay on
 * the 2-D tensors, i.e. the matrices and the embeddings; none on biases and LayerNorms), global-norm clipping,
 * linear warmup then cosine decay to a tenth of the peak learning rate.
 *
 * Corpus: UTF-8 text, ONE SAMPLE PER LINE (LF or CRLF; blank lines skipped). Each sample is its own sequence
 * from position 0: its tokens, then <|endoftext|>, padded to the batch's longest sample (padding has no
 * target) and never packed with another. The loss is the mean cross-entropy over every real next-token target
 * (the first token is not predicted; <|endoftext|> is). A sample with more than `context` targets is cut to its
 * first context + 1 tokens, counted in n_truncated and logged. With tab_segments, a TAB separates segments that
 * are tokenized independently and concatenated (the TAB is not text): "a\tb" gives tokens(a) tokens(b), the
 * way frz_prompt_add_text tokenizes the text around images. A line that is not UTF-8 or holds a NUL is
 * FRZ_ERR_FORMAT naming "file:line"; a corpus without samples too.
 * Samples are held out for validation by a hash of (seed, line number); each epoch the training samples are
 * shuffled with a generator seeded from (seed, epoch), or kept in file order with no_shuffle (a curriculum);
 * then, so that little of a batch is padding, each run of 16 batches is sorted by sample length, cut into
 * batches and those batches are put in a seeded random order.
 *
 * out_dir receives the model (frz_lm_save; at the end, at each checkpoint and when the abort callback stops the
 * run), metrics.csv ("step,epoch,loss,val_ppl,tokens_per_s,lr"; val_ppl = exp(validation loss)) and loss.png.
 * The model is trained in place: its weights become its own (a loaded model's file is no longer mapped) and no
 * session may use it during frz_pretrain_run. The same corpus, parameters, seed and n_threads give the same
 * losses. */

typedef struct frz_pretrain frz_pretrain;

typedef struct frz_pretrain_progress {
    size_t struct_size;       /* filled in by the library: the size it wrote */
    int64_t step;             /* optimisation steps done */
    int64_t total_steps;
    int32_t epoch;            /* 0-based epoch of the latest step */
    float loss;               /* that step's mean cross-entropy (nats per token) */
    float lr;                 /* learning rate of that step */
    double tokens_per_s;      /* targets per second over that step */
    double val_loss;          /* validation loss measured after that step; 0 if none was */
    int64_t n_train, n_val;   /* samples in the training and validation splits */
    int64_t n_truncated;      /* samples cut to the context */
    int64_t n_tokens;         /* targets in the training split (one epoch) */
    double elapsed_s;
} frz_pretrain_progress;

typedef void (*frz_pretrain_progress_fn)(const frz_pretrain_progress *progress, void *user_data);

typedef struct frz_pretrain_params {
    size_t struct_size;       /* set by frz_pretrain_params_init */
    int64_t steps;            /* optimisation steps; default 1000 */
    int32_t batch_size;       /* samples per step; default 32 */
    int32_t context;          /* most targets per sample (positions per sequence); default 0: the model's n_ctx */
    float lr;                 /* peak learning rate; default 1e-3 */
    int32_t warmup;           /* steps of linear warmup from lr / warmup; default 100 (cut to steps / 2) */
    float min_lr_ratio;       /* the cosine decay ends at lr * this at the last step; default 0.1 */
    float beta1, beta2;       /* default 0.9, 0.95 */
    float adam_eps;           /* default 1e-8 */
    float weight_decay;       /* decoupled, 2-D tensors only; default 0.1 */
    float grad_clip;          /* global gradient norm; 0: off. Default 1 */
    float val_fraction;       /* share of the samples held out, 0..0.5; default 0.05 */
    int32_t val_every;        /* steps between validations; 0 (default): 20 over the run. Also at the end */
    int32_t checkpoint_every; /* steps between saves of the model to out_dir; 0 (default): at validations */
    int tab_segments;         /* TAB separates independently tokenized segments; default 0 */
    int no_shuffle;           /* keep the file's order every epoch; default 0 */
    uint64_t seed;            /* split and shuffles; default 0 */
    int32_t n_threads;        /* default 1 */
    frz_pretrain_progress_fn progress;
    void *progress_data;
    frz_abort_fn abort;       /* polled between steps and validation batches */
    void *abort_data;
    int resume;               /* continue the interrupted run in out_dir from its checkpoint (below); default 0 */
} frz_pretrain_params;

FRZ_API void frz_pretrain_params_init(frz_pretrain_params *p);
FRZ_API void frz_pretrain_params_init_size(frz_pretrain_params *p, size_t size);
#define frz_pretrain_params_init(p) frz_pretrain_params_init_size((p), sizeof *(p))

/* Reads and tokenizes the corpus (errors name "file:line"), splits it, makes lm's weights its own and opens the
 * metrics. out_dir is created if missing. lm must outlive the handle and needs a tokenizer with <|endoftext|>
 * and context <= its n_ctx.
 *
 * Checkpoint: while a run has steps left, each save of the model also writes out_dir/
 * pretrain-checkpoint.safetensors (the weights, AdamW's moments, the step and the settings that shape the run);
 * the save after the last step removes it. With params->resume, lm is the interrupted run's model (frz_lm_load
 * of out_dir gives its sizes and tokenizer), its weights are replaced by the checkpoint's and the run continues
 * after the checkpoint's step, with the losses the uninterrupted run would have had (same corpus, settings and
 * n_threads); metrics.csv keeps its rows up to that step. A checkpoint made with other settings or another
 * corpus: FRZ_ERR_INVALID_ARG naming the setting and both values; none: FRZ_ERR_IO naming the file. */
FRZ_API frz_status frz_pretrain_create(frz_lm *lm, const char *corpus_path, const char *out_dir,
                                       const frz_pretrain_params *params, frz_pretrain **out);
/* Trains for the planned steps and saves the model: FRZ_OK. When the abort callback asks, it saves the model
 * (and the checkpoint) as it is after the last completed step and returns FRZ_ERR_CANCELLED. */
FRZ_API frz_status frz_pretrain_run(frz_pretrain *t);
/* The latest progress. out->struct_size must be set by the caller (sizeof its struct); the members both the
 * caller and this library know are filled and struct_size is set to their extent (a newer, longer struct keeps
 * its extra members untouched). */
FRZ_API frz_status frz_pretrain_get_progress(const frz_pretrain *t, frz_pretrain_progress *out);
FRZ_API void frz_pretrain_free(frz_pretrain *t);

#ifdef __cplusplus
}
#endif
#endif /* FROZEN_H */
