//! Raw declarations of `include/frozen.h`, one for one: the types, constants, structs (`#[repr(C)]`, members in
//! the header's order) and `extern "C"` functions. Nothing here is safe to call without reading the header.
//!
//! Parameter structs start with `struct_size`: the library reads only the members that existed at that size.
//! Call the matching `*_init` function first (see `crate::params_init` for doing it robustly), then set
//! `struct_size = size_of::<T>()` as compiled here. `tests/layout.rs` checks every struct's size and offsets
//! against a C compiler's view of the header.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

// ---- version -----------------------------------------------------------------------------------------------------

pub const FRZ_VERSION_MAJOR: u32 = 0;
pub const FRZ_VERSION_MINOR: u32 = 1;
pub const FRZ_VERSION_PATCH: u32 = 0;
pub const FRZ_VERSION_STRING: &str = "0.1.0";
pub const FRZ_VERSION_NUMBER: u32 = FRZ_VERSION_MAJOR * 10000 + FRZ_VERSION_MINOR * 100 + FRZ_VERSION_PATCH;

// ---- enums: C enums are ints; values are never renumbered ------------------------------------------------------

pub type frz_status = c_int;
pub const FRZ_OK: frz_status = 0;
pub const FRZ_ERR_IO: frz_status = 1;
pub const FRZ_ERR_FORMAT: frz_status = 2;
pub const FRZ_ERR_UNSUPPORTED: frz_status = 3;
pub const FRZ_ERR_SHAPE: frz_status = 4;
pub const FRZ_ERR_INVALID_ARG: frz_status = 5;
pub const FRZ_ERR_NOMEM: frz_status = 6;
pub const FRZ_ERR_CANCELLED: frz_status = 7;
pub const FRZ_ERR_BUFFER_TOO_SMALL: frz_status = 8;
pub const FRZ_ERR_CONTEXT_FULL: frz_status = 9;

pub type frz_log_level = c_int;
pub const FRZ_LOG_ERROR: frz_log_level = 0;
pub const FRZ_LOG_WARN: frz_log_level = 1;
pub const FRZ_LOG_INFO: frz_log_level = 2;
pub const FRZ_LOG_DEBUG: frz_log_level = 3;

pub type frz_lm_prop = c_int;
pub const FRZ_LM_N_LAYER: frz_lm_prop = 0;
pub const FRZ_LM_N_HEAD: frz_lm_prop = 1;
pub const FRZ_LM_N_EMBD: frz_lm_prop = 2;
pub const FRZ_LM_N_VOCAB: frz_lm_prop = 3;
pub const FRZ_LM_N_CTX: frz_lm_prop = 4;
pub const FRZ_LM_EOT_TOKEN: frz_lm_prop = 5;
pub const FRZ_LM_N_PARAMS: frz_lm_prop = 6;

pub const FRZ_TOKENIZE_SPECIAL: c_uint = 1;

pub type frz_session_opt = c_int;
pub const FRZ_OPT_THREADS: frz_session_opt = 0;
pub const FRZ_OPT_SEED: frz_session_opt = 1;
pub const FRZ_OPT_MAX_SEQS: frz_session_opt = 2;

pub const FRZ_TOKEN_EMBEDDING: i32 = -1;

pub type frz_logits_mode = c_int;
pub const FRZ_LOGITS_LAST: frz_logits_mode = 0;
pub const FRZ_LOGITS_ALL: frz_logits_mode = 1;
pub const FRZ_LOGITS_NONE: frz_logits_mode = 2;

pub type frz_vision_prop = c_int;
pub const FRZ_VISION_N_FEATURES: frz_vision_prop = 0;
pub const FRZ_VISION_IMAGE_SIZE: frz_vision_prop = 1;
pub const FRZ_VISION_N_PARAMS: frz_vision_prop = 2;

pub type frz_projector_prop = c_int;
pub const FRZ_PROJECTOR_N_FEATURES: frz_projector_prop = 0;
pub const FRZ_PROJECTOR_N_PREFIX: frz_projector_prop = 1;
pub const FRZ_PROJECTOR_N_EMBD: frz_projector_prop = 2;
pub const FRZ_PROJECTOR_N_PARAMS: frz_projector_prop = 3;

pub type frz_prompt_opt = c_int;
pub const FRZ_PROMPT_OPT_THREADS: frz_prompt_opt = 0;
pub const FRZ_PROMPT_OPT_BLIND: frz_prompt_opt = 1;

pub type frz_prompt_seg_kind = c_int;
pub const FRZ_PROMPT_SEG_TEXT: frz_prompt_seg_kind = 0;
pub const FRZ_PROMPT_SEG_IMAGE: frz_prompt_seg_kind = 1;
pub const FRZ_PROMPT_SEG_EMBEDDING: frz_prompt_seg_kind = 2;

pub const FRZ_PROMPT_STOP_NEWLINE: c_uint = 1;

// ---- opaque handles ----------------------------------------------------------------------------------------------

macro_rules! opaque {
    ($($name:ident),*) => {$(
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
            // Not Send, Sync or Unpin: the safe wrappers decide what the header allows.
            _marker: core::marker::PhantomData<(*mut u8, core::marker::PhantomPinned)>,
        }
    )*};
}
opaque!(frz_lm, frz_session, frz_image, frz_vision, frz_projector, frz_train, frz_prompt, frz_pretrain);

// ---- callbacks -------------------------------------------------------------------------------------------------

pub type frz_log_fn = unsafe extern "C" fn(level: frz_log_level, text: *const c_char, user_data: *mut c_void);
pub type frz_abort_fn = unsafe extern "C" fn(user_data: *mut c_void) -> c_int;
pub type frz_token_fn = unsafe extern "C" fn(token: i32, user_data: *mut c_void) -> c_int;
pub type frz_train_progress_fn = unsafe extern "C" fn(progress: *const frz_train_progress, user_data: *mut c_void);
pub type frz_pretrain_progress_fn =
    unsafe extern "C" fn(progress: *const frz_pretrain_progress, user_data: *mut c_void);

// ---- plain data and parameter structs -------------------------------------------------------------------------

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct frz_input {
    pub seq: i32,
    pub n: usize,
    pub tokens: *const i32,
    pub embd: *const f32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct frz_generate_params {
    pub struct_size: usize,
    pub max_tokens: i32,
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub stop_at_eot: c_int,
    pub stop: *const *const c_char,
    pub n_stop: usize,
    pub on_token: Option<frz_token_fn>,
    pub on_token_data: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct frz_train_progress {
    pub struct_size: usize,
    pub step: i64,
    pub total_steps: i64,
    pub steps_per_epoch: i64,
    pub epoch: i32,
    pub loss: f32,
    pub lr: f32,
    pub images_per_s: f64,
    pub val_ppl: f64,
    pub best_val_ppl: f64,
    pub skipped_images: i64,
    pub n_train: i64,
    pub n_val: i64,
    pub elapsed_s: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct frz_train_params {
    pub struct_size: usize,
    pub vision_arch: *const c_char,
    pub vision_width: f32,
    pub image_size: i32,
    pub prefix_tokens: i32,
    pub batch_size: i32,
    pub micro_batch: i32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub adam_eps: f32,
    pub weight_decay: f32,
    pub grad_clip: f32,
    pub epochs: i32,
    pub max_steps: i64,
    pub val_fraction: f32,
    pub val_every: i32,
    pub patience: i32,
    pub max_caption_tokens: i32,
    pub checkpoint_every: i32,
    pub blind: c_int,
    pub resume: c_int,
    pub seed: u64,
    pub n_threads: i32,
    pub image_dir: *const c_char,
    pub progress: Option<frz_train_progress_fn>,
    pub progress_data: *mut c_void,
    pub abort: Option<frz_abort_fn>,
    pub abort_data: *mut c_void,
    pub lm_mode: i32,
    pub lm_lr: f32,
    pub lr_decay: f32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct frz_tokenizer_train_params {
    pub struct_size: usize,
    pub vocab_size: i32,
    pub min_frequency: i32,
    pub n_threads: i32,
    pub tab_segments: c_int,
    pub abort: Option<frz_abort_fn>,
    pub abort_data: *mut c_void,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct frz_tokenizer_train_stats {
    pub struct_size: usize,
    pub n_bytes: i64,
    pub n_words: i64,
    pub n_unique_words: i64,
    pub n_merges: i32,
    pub n_vocab: i32,
    pub last_count: i64,
    pub count_s: f64,
    pub merge_s: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct frz_lm_config {
    pub struct_size: usize,
    pub n_layer: i32,
    pub n_head: i32,
    pub n_embd: i32,
    pub n_ctx: i32,
    pub n_inner: i32,
    pub reserved0: i32,
    pub untied_head: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct frz_pretrain_progress {
    pub struct_size: usize,
    pub step: i64,
    pub total_steps: i64,
    pub epoch: i32,
    pub loss: f32,
    pub lr: f32,
    pub tokens_per_s: f64,
    pub val_loss: f64,
    pub n_train: i64,
    pub n_val: i64,
    pub n_truncated: i64,
    pub n_tokens: i64,
    pub elapsed_s: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct frz_pretrain_params {
    pub struct_size: usize,
    pub steps: i64,
    pub batch_size: i32,
    pub context: i32,
    pub lr: f32,
    pub warmup: i32,
    pub min_lr_ratio: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub adam_eps: f32,
    pub weight_decay: f32,
    pub grad_clip: f32,
    pub val_fraction: f32,
    pub val_every: i32,
    pub checkpoint_every: i32,
    pub tab_segments: c_int,
    pub no_shuffle: c_int,
    pub seed: u64,
    pub n_threads: i32,
    pub progress: Option<frz_pretrain_progress_fn>,
    pub progress_data: *mut c_void,
    pub abort: Option<frz_abort_fn>,
    pub abort_data: *mut c_void,
    pub resume: c_int,
}

// ---- functions -----------------------------------------------------------------------------------------------------

extern "C" {
    pub fn frz_version_number() -> c_uint;
    pub fn frz_version_string() -> *const c_char;
    pub fn frz_strerror(code: frz_status) -> *const c_char;
    pub fn frz_last_error() -> *const c_char;
    pub fn frz_set_log_callback(f: Option<frz_log_fn>, user_data: *mut c_void, max_level: frz_log_level);
    pub fn frz_blas_corename() -> *const c_char;
    pub fn frz_blas_advice() -> *const c_char;

    pub fn frz_lm_load(dir: *const c_char, out: *mut *mut frz_lm) -> frz_status;
    pub fn frz_lm_free(lm: *mut frz_lm);
    pub fn frz_lm_get(lm: *const frz_lm, prop: frz_lm_prop) -> i64;

    pub fn frz_tokenize(
        lm: *const frz_lm,
        text: *const c_char,
        len: usize,
        flags: c_uint,
        ids: *mut i32,
        cap: usize,
        n_ids: *mut usize,
    ) -> frz_status;
    pub fn frz_detokenize(
        lm: *const frz_lm,
        ids: *const i32,
        n_ids: usize,
        text: *mut c_char,
        cap: usize,
        n_bytes: *mut usize,
    ) -> frz_status;

    pub fn frz_session_create(lm: *const frz_lm, out: *mut *mut frz_session) -> frz_status;
    pub fn frz_session_free(s: *mut frz_session);
    pub fn frz_session_set_int(s: *mut frz_session, opt: frz_session_opt, value: i64) -> frz_status;
    pub fn frz_session_set_abort(s: *mut frz_session, f: Option<frz_abort_fn>, user_data: *mut c_void);
    pub fn frz_session_eval(
        s: *mut frz_session,
        inputs: *const frz_input,
        n_inputs: usize,
        mode: frz_logits_mode,
    ) -> frz_status;
    pub fn frz_session_logits(s: *const frz_session, row: usize) -> *const f32;
    pub fn frz_session_seq_len(s: *const frz_session, seq: i32) -> i64;
    pub fn frz_session_seq_truncate(s: *mut frz_session, seq: i32, n: usize) -> frz_status;
    pub fn frz_session_seq_copy(s: *mut frz_session, src: i32, dst: i32) -> frz_status;

    pub fn frz_generate_params_init(p: *mut frz_generate_params);
    pub fn frz_generate(
        s: *mut frz_session,
        seq: i32,
        params: *const frz_generate_params,
        out: *mut i32,
        cap: usize,
        n_out: *mut usize,
    ) -> frz_status;
    pub fn frz_score(
        s: *mut frz_session,
        seq: i32,
        cont: *const i32,
        n_cont: usize,
        token_logprobs: *mut f32,
        total: *mut f64,
    ) -> frz_status;

    pub fn frz_image_load_file(path: *const c_char, out: *mut *mut frz_image) -> frz_status;
    pub fn frz_image_load_memory(
        data: *const c_void,
        len: usize,
        name: *const c_char,
        out: *mut *mut frz_image,
    ) -> frz_status;
    pub fn frz_image_from_rgb8(
        pixels: *const u8,
        width: i32,
        height: i32,
        stride: usize,
        out: *mut *mut frz_image,
    ) -> frz_status;
    pub fn frz_image_free(img: *mut frz_image);
    pub fn frz_image_width(img: *const frz_image) -> i32;
    pub fn frz_image_height(img: *const frz_image) -> i32;
    pub fn frz_image_pixels(img: *const frz_image) -> *const u8;

    pub fn frz_vision_create(
        arch: *const c_char,
        width: f32,
        image_size: i32,
        seed: u64,
        out: *mut *mut frz_vision,
    ) -> frz_status;
    pub fn frz_vision_load(path: *const c_char, out: *mut *mut frz_vision) -> frz_status;
    pub fn frz_vision_save(v: *const frz_vision, path: *const c_char) -> frz_status;
    pub fn frz_vision_free(v: *mut frz_vision);
    pub fn frz_vision_get(v: *const frz_vision, prop: frz_vision_prop) -> i64;
    pub fn frz_vision_encode(
        v: *const frz_vision,
        img: *const frz_image,
        n_threads: i32,
        pooled: *mut f32,
        cap: usize,
        needed: *mut usize,
    ) -> frz_status;

    pub fn frz_projector_create(
        n_features: i32,
        n_prefix: i32,
        n_embd: i32,
        seed: u64,
        out: *mut *mut frz_projector,
    ) -> frz_status;
    pub fn frz_projector_load(path: *const c_char, out: *mut *mut frz_projector) -> frz_status;
    pub fn frz_projector_save(p: *const frz_projector, path: *const c_char) -> frz_status;
    pub fn frz_projector_free(p: *mut frz_projector);
    pub fn frz_projector_get(p: *const frz_projector, prop: frz_projector_prop) -> i64;
    pub fn frz_projector_apply(
        p: *const frz_projector,
        pooled: *const f32,
        embd: *mut f32,
        cap: usize,
        needed: *mut usize,
    ) -> frz_status;

    pub fn frz_image_prefix(
        v: *const frz_vision,
        p: *const frz_projector,
        img: *const frz_image,
        n_threads: i32,
        embd: *mut f32,
        cap: usize,
        needed: *mut usize,
    ) -> frz_status;
    pub fn frz_caption(
        s: *mut frz_session,
        seq: i32,
        v: *const frz_vision,
        p: *const frz_projector,
        img: *const frz_image,
        max_tokens: i32,
        text: *mut c_char,
        cap: usize,
        n_bytes: *mut usize,
    ) -> frz_status;

    pub fn frz_train_params_init(p: *mut frz_train_params);
    pub fn frz_train_create(
        lm: *const frz_lm,
        data_path: *const c_char,
        out_dir: *const c_char,
        params: *const frz_train_params,
        out: *mut *mut frz_train,
    ) -> frz_status;
    pub fn frz_train_run(t: *mut frz_train) -> frz_status;
    pub fn frz_train_get_progress(t: *const frz_train, out: *mut frz_train_progress) -> frz_status;
    pub fn frz_train_free(t: *mut frz_train);

    pub fn frz_prompt_create(
        lm: *const frz_lm,
        v: *const frz_vision,
        p: *const frz_projector,
        out: *mut *mut frz_prompt,
    ) -> frz_status;
    pub fn frz_prompt_free(pr: *mut frz_prompt);
    pub fn frz_prompt_clear(pr: *mut frz_prompt);
    pub fn frz_prompt_set_int(pr: *mut frz_prompt, opt: frz_prompt_opt, value: i64) -> frz_status;
    pub fn frz_prompt_add_text(pr: *mut frz_prompt, text: *const c_char, len: usize, flags: c_uint) -> frz_status;
    pub fn frz_prompt_add_image(pr: *mut frz_prompt, img: *const frz_image) -> frz_status;
    pub fn frz_prompt_add_image_with(
        pr: *mut frz_prompt,
        img: *const frz_image,
        v: *const frz_vision,
        p: *const frz_projector,
    ) -> frz_status;
    pub fn frz_prompt_add_image_file(pr: *mut frz_prompt, path: *const c_char) -> frz_status;
    pub fn frz_prompt_add_image_memory(
        pr: *mut frz_prompt,
        data: *const c_void,
        len: usize,
        name: *const c_char,
    ) -> frz_status;
    pub fn frz_prompt_add_image_rgb8(
        pr: *mut frz_prompt,
        pixels: *const u8,
        width: i32,
        height: i32,
        stride: usize,
    ) -> frz_status;
    pub fn frz_prompt_add_embeddings(pr: *mut frz_prompt, embd: *const f32, n: usize) -> frz_status;
    pub fn frz_prompt_len(pr: *const frz_prompt) -> usize;
    pub fn frz_prompt_tokens(pr: *const frz_prompt, ids: *mut i32, cap: usize, n: *mut usize) -> frz_status;
    pub fn frz_prompt_embedding(pr: *const frz_prompt, pos: usize) -> *const f32;
    pub fn frz_prompt_n_segments(pr: *const frz_prompt) -> usize;
    pub fn frz_prompt_segment(
        pr: *const frz_prompt,
        i: usize,
        kind: *mut frz_prompt_seg_kind,
        start: *mut usize,
        n: *mut usize,
    ) -> frz_status;
    pub fn frz_prompt_eval(s: *mut frz_session, seq: i32, pr: *const frz_prompt, mode: frz_logits_mode) -> frz_status;
    pub fn frz_prompt_eval_range(
        s: *mut frz_session,
        seq: i32,
        pr: *const frz_prompt,
        first: usize,
        n: usize,
        mode: frz_logits_mode,
    ) -> frz_status;
    pub fn frz_prompt_generate(
        s: *mut frz_session,
        seq: i32,
        pr: *const frz_prompt,
        params: *const frz_generate_params,
        flags: c_uint,
        out: *mut i32,
        cap: usize,
        n_out: *mut usize,
    ) -> frz_status;
    pub fn frz_prompt_score(
        s: *mut frz_session,
        seq: i32,
        pr: *const frz_prompt,
        candidates: *const *const c_char,
        n_candidates: usize,
        logprobs: *mut f64,
    ) -> frz_status;

    pub fn frz_tokenizer_train_params_init_size(p: *mut frz_tokenizer_train_params, size: usize);
    pub fn frz_tokenizer_train(
        corpus_path: *const c_char,
        out_dir: *const c_char,
        params: *const frz_tokenizer_train_params,
        stats: *mut frz_tokenizer_train_stats,
    ) -> frz_status;

    pub fn frz_lm_config_init_size(p: *mut frz_lm_config, size: usize);
    pub fn frz_lm_create_random(
        cfg: *const frz_lm_config,
        tokenizer_dir: *const c_char,
        seed: u64,
        out: *mut *mut frz_lm,
    ) -> frz_status;
    pub fn frz_lm_save(lm: *const frz_lm, dir: *const c_char) -> frz_status;

    pub fn frz_pretrain_params_init_size(p: *mut frz_pretrain_params, size: usize);
    pub fn frz_pretrain_create(
        lm: *mut frz_lm,
        corpus_path: *const c_char,
        out_dir: *const c_char,
        params: *const frz_pretrain_params,
        out: *mut *mut frz_pretrain,
    ) -> frz_status;
    pub fn frz_pretrain_run(t: *mut frz_pretrain) -> frz_status;
    pub fn frz_pretrain_get_progress(t: *const frz_pretrain, out: *mut frz_pretrain_progress) -> frz_status;
    pub fn frz_pretrain_free(t: *mut frz_pretrain);
}
