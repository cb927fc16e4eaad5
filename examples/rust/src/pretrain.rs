//! Training a tokenizer, random GPT-2 models and pretraining (`frz_tokenizer_train`, `frz_lm_create_random`,
//! `frz_lm_save`, `frz_pretrain_*`).
//!
//! ```no_run
//! use frozen::{tokenizer_train, Lm, LmConfig, PretrainParams, Pretrainer, TokenizerTrainOptions};
//! tokenizer_train("corpus.txt", "tok", &TokenizerTrainOptions { vocab_size: 4096, ..Default::default() })?;
//! let mut lm = Lm::create_random("tok", &LmConfig::default(), 1)?;
//! let mut t = Pretrainer::new(&mut lm, "corpus.txt", "out", &PretrainParams { steps: 2000, ..Default::default() })?;
//! t.set_progress(|p| println!("step {} loss {:.3}", p.step, p.loss));
//! t.run()?; // writes out/ (a Hugging Face folder), metrics.csv, loss.png
//! # Ok::<(), frozen::Error>(())
//! ```
//! Every parameter struct is filled by its `*_init_size` function with this crate's size of the struct.

use crate::error::{check, cpath, params_init_size, PanicSlot, Result};
use crate::lm::Lm;
use crate::run::RunCallbacks;
use crate::sys;
use std::marker::PhantomData;
use std::os::raw::{c_int, c_void};
use std::path::Path;
use std::ptr::NonNull;

// ---- tokenizer training ----------------------------------------------------------------------------------------

/// What a tokenizer training run did (`frz_tokenizer_train_stats`): n_bytes, n_words, n_merges, n_vocab, ...
pub type TokenizerTrainStats = sys::frz_tokenizer_train_stats;

/// Tokenizer training settings; `Default` is the library's (`frz_tokenizer_train_params_init_size`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenizerTrainOptions {
    /// Entries in vocab.json, `<|endoftext|>` included; >= 257.
    pub vocab_size: i32,
    /// A pair occurring fewer times is never merged.
    pub min_frequency: i32,
    pub n_threads: i32,
    /// TAB and line ends separate independently pre-tokenized segments (`frozen pretrain --tab-segments`).
    pub tab_segments: bool,
}

impl Default for TokenizerTrainOptions {
    fn default() -> Self {
        // SAFETY: the matching init function; the struct is valid zeroed.
        let d = unsafe { params_init_size(sys::frz_tokenizer_train_params_init_size) };
        TokenizerTrainOptions {
            vocab_size: d.vocab_size,
            min_frequency: d.min_frequency,
            n_threads: d.n_threads,
            tab_segments: d.tab_segments != 0,
        }
    }
}

struct AbortOnly<'a> {
    abort: Box<dyn FnMut() -> bool + 'a>,
    panic: PanicSlot,
}

unsafe extern "C" fn abort_only_trampoline(user: *mut c_void) -> c_int {
    // SAFETY: user is the caller's AbortOnly, alive during the call.
    let cb = unsafe { &mut *user.cast::<AbortOnly<'_>>() };
    let AbortOnly { abort, panic } = cb;
    panic.guard(1, || abort() as c_int)
}

/// Trains a byte-level BPE tokenizer (GPT-2 format) on the corpus file and writes out_dir/vocab.json and
/// out_dir/merges.txt (the same bytes as `frozen tokenizer-train`).
pub fn tokenizer_train(
    corpus: impl AsRef<Path>,
    out_dir: impl AsRef<Path>,
    options: &TokenizerTrainOptions,
) -> Result<TokenizerTrainStats> {
    tokenizer_train_with_abort(corpus, out_dir, options, || false)
}

/// The same, polling `abort` while counting and between merges: true stops it with `Status::Cancelled`, and
/// nothing is written. A panic in `abort` stops it too and resumes here.
pub fn tokenizer_train_with_abort(
    corpus: impl AsRef<Path>,
    out_dir: impl AsRef<Path>,
    options: &TokenizerTrainOptions,
    abort: impl FnMut() -> bool,
) -> Result<TokenizerTrainStats> {
    let corpus = cpath(corpus.as_ref())?;
    let out_dir = cpath(out_dir.as_ref())?;
    // SAFETY: the matching init function.
    let mut p = unsafe { params_init_size(sys::frz_tokenizer_train_params_init_size) };
    p.vocab_size = options.vocab_size;
    p.min_frequency = options.min_frequency;
    p.n_threads = options.n_threads;
    p.tab_segments = options.tab_segments as c_int;
    let mut cb = AbortOnly { abort: Box::new(abort), panic: PanicSlot::default() };
    p.abort = Some(abort_only_trampoline);
    p.abort_data = (&mut cb as *mut AbortOnly<'_>).cast();
    let mut stats =
        TokenizerTrainStats { struct_size: std::mem::size_of::<TokenizerTrainStats>(), ..Default::default() };
    // SAFETY: valid strings; cb outlives the call; stats.struct_size says how much may be written.
    let st = unsafe { sys::frz_tokenizer_train(corpus.as_ptr(), out_dir.as_ptr(), &p, &mut stats) };
    cb.panic.finish(st)?;
    Ok(stats)
}

// ---- random models -------------------------------------------------------------------------------------------

/// The shape of a new GPT-2 (`frz_lm_config`); `Default` is the library's (4 layers, 4 heads, width 128, ctx 256).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LmConfig {
    pub n_layer: i32,
    /// Must divide n_embd.
    pub n_head: i32,
    pub n_embd: i32,
    /// Positions (n_positions).
    pub n_ctx: i32,
    /// MLP width; 0: 4 n_embd.
    pub n_inner: i32,
    /// 0: the LM head is wte (GPT-2); 1: a head of its own (`lm_head.weight`).
    pub untied_head: i32,
}

impl Default for LmConfig {
    fn default() -> Self {
        // SAFETY: the matching init function.
        let d = unsafe { params_init_size(sys::frz_lm_config_init_size) };
        LmConfig {
            n_layer: d.n_layer,
            n_head: d.n_head,
            n_embd: d.n_embd,
            n_ctx: d.n_ctx,
            n_inner: d.n_inner,
            untied_head: d.untied_head,
        }
    }
}

impl Lm {
    /// A GPT-2 with GPT-2's random initialisation (the same seed gives the same weights) and the tokenizer
    /// tokenizer_dir/vocab.json + merges.txt. Bad sizes: `Status::InvalidArg` naming the member.
    pub fn create_random(tokenizer_dir: impl AsRef<Path>, config: &LmConfig, seed: u64) -> Result<Lm> {
        let dir = cpath(tokenizer_dir.as_ref())?;
        // SAFETY: the matching init function.
        let mut c = unsafe { params_init_size(sys::frz_lm_config_init_size) };
        c.n_layer = config.n_layer;
        c.n_head = config.n_head;
        c.n_embd = config.n_embd;
        c.n_ctx = config.n_ctx;
        c.n_inner = config.n_inner;
        c.untied_head = config.untied_head;
        let mut out = std::ptr::null_mut();
        // SAFETY: a valid config, string and out pointer.
        check(unsafe { sys::frz_lm_create_random(&c, dir.as_ptr(), seed, &mut out) })?;
        Ok(Lm::from_raw(out, "frz_lm_create_random"))
    }

    /// Writes the model as a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json, merges.txt)
    /// that `Lm::load` reads back bit for bit. dir is created if missing (not its parents).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = cpath(dir.as_ref())?;
        // SAFETY: a live handle and a valid string.
        check(unsafe { sys::frz_lm_save(self.as_ptr(), dir.as_ptr()) })
    }
}

// ---- pretraining ---------------------------------------------------------------------------------------------

/// The progress after a step (`frz_pretrain_progress`): step, total_steps, epoch, loss, lr, val_loss, ...
pub type PretrainProgress = sys::frz_pretrain_progress;

/// Pretraining settings; `Default` is the library's (`frz_pretrain_params_init_size`). See frozen.h for each.
#[derive(Clone, Debug, PartialEq)]
pub struct PretrainParams {
    pub steps: i64,
    pub batch_size: i32,
    /// Most targets per sample; 0: the model's n_ctx.
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
    pub tab_segments: bool,
    pub no_shuffle: bool,
    pub seed: u64,
    pub n_threads: i32,
    /// Continue the interrupted run in out_dir from its checkpoint (the model given being `Lm::load(out_dir)`).
    pub resume: bool,
}

impl Default for PretrainParams {
    fn default() -> Self {
        // SAFETY: the matching init function.
        let d = unsafe { params_init_size(sys::frz_pretrain_params_init_size) };
        PretrainParams {
            steps: d.steps,
            batch_size: d.batch_size,
            context: d.context,
            lr: d.lr,
            warmup: d.warmup,
            min_lr_ratio: d.min_lr_ratio,
            beta1: d.beta1,
            beta2: d.beta2,
            adam_eps: d.adam_eps,
            weight_decay: d.weight_decay,
            grad_clip: d.grad_clip,
            val_fraction: d.val_fraction,
            val_every: d.val_every,
            checkpoint_every: d.checkpoint_every,
            tab_segments: d.tab_segments != 0,
            no_shuffle: d.no_shuffle != 0,
            seed: d.seed,
            n_threads: d.n_threads,
            resume: d.resume != 0,
        }
    }
}

/// A pretraining run of a model's weights on a corpus (one sample per line), writing to its folder (the model,
/// metrics.csv, loss.png). It borrows the model mutably: the weights are trained in place, and no session can
/// use the model meanwhile. `Send`, not `Sync`.
pub struct Pretrainer<'m> {
    ptr: NonNull<sys::frz_pretrain>,
    cb: RunCallbacks<'m, PretrainProgress>,
    _lm: PhantomData<&'m mut Lm>,
}

// SAFETY: used by one thread at a time (&mut self to run); its callbacks are Send.
unsafe impl Send for Pretrainer<'_> {}

impl<'m> Pretrainer<'m> {
    /// Reads and tokenizes the corpus (errors name "file:line"), splits it and opens the metrics; out_dir is
    /// created if missing.
    pub fn new(
        lm: &'m mut Lm,
        corpus: impl AsRef<Path>,
        out_dir: impl AsRef<Path>,
        params: &PretrainParams,
    ) -> Result<Pretrainer<'m>> {
        let corpus = cpath(corpus.as_ref())?;
        let out_dir = cpath(out_dir.as_ref())?;
        // SAFETY: the matching init function.
        let mut p = unsafe { params_init_size(sys::frz_pretrain_params_init_size) };
        p.steps = params.steps;
        p.batch_size = params.batch_size;
        p.context = params.context;
        p.lr = params.lr;
        p.warmup = params.warmup;
        p.min_lr_ratio = params.min_lr_ratio;
        p.beta1 = params.beta1;
        p.beta2 = params.beta2;
        p.adam_eps = params.adam_eps;
        p.weight_decay = params.weight_decay;
        p.grad_clip = params.grad_clip;
        p.val_fraction = params.val_fraction;
        p.val_every = params.val_every;
        p.checkpoint_every = params.checkpoint_every;
        p.tab_segments = params.tab_segments as c_int;
        p.no_shuffle = params.no_shuffle as c_int;
        p.seed = params.seed;
        p.n_threads = params.n_threads;
        p.resume = params.resume as c_int;
        // The trampolines are always installed; they do nothing until set_progress / set_abort.
        let cb = RunCallbacks::new();
        (p.progress, p.progress_data) = cb.progress_fn();
        (p.abort, p.abort_data) = cb.abort_fn();
        let mut out = std::ptr::null_mut();
        // SAFETY: valid strings; the model is exclusively borrowed for the handle's life.
        let st = unsafe { sys::frz_pretrain_create(lm.as_mut_ptr(), corpus.as_ptr(), out_dir.as_ptr(), &p, &mut out) };
        check(st)?; // on failure cb drops here: no C state points to it
        Ok(Pretrainer { ptr: NonNull::new(out).expect("frz_pretrain_create: FRZ_OK and NULL"), cb, _lm: PhantomData })
    }

    /// Called after every step (after its validation, if any), on the thread running `run`.
    pub fn set_progress(&mut self, f: impl FnMut(&PretrainProgress) + Send + 'm) {
        self.cb.set_progress(f);
    }
    /// Polled between steps and validation batches: true stops the run, which saves the model as it is after
    /// the last completed step and returns `Status::Cancelled`.
    pub fn set_abort(&mut self, f: impl FnMut() -> bool + Send + 'm) {
        self.cb.set_abort(f);
    }

    /// Trains for the planned steps and saves the model. A panic in a callback stops the run (the model saved)
    /// and resumes here.
    pub fn run(&mut self) -> Result<()> {
        // SAFETY: a live handle.
        let st = unsafe { sys::frz_pretrain_run(self.ptr.as_ptr()) };
        self.cb.finish(st)
    }

    /// The latest progress.
    pub fn progress(&self) -> Result<PretrainProgress> {
        let mut p = PretrainProgress { struct_size: std::mem::size_of::<PretrainProgress>(), ..Default::default() };
        // SAFETY: struct_size says how much may be written.
        check(unsafe { sys::frz_pretrain_get_progress(self.ptr.as_ptr(), &mut p) })?;
        Ok(p)
    }

    pub fn as_ptr(&self) -> *mut sys::frz_pretrain {
        self.ptr.as_ptr()
    }
}

impl Drop for Pretrainer<'_> {
    fn drop(&mut self) {
        // SAFETY: owned. The callbacks it pointed to are a field: they drop after this.
        unsafe { sys::frz_pretrain_free(self.ptr.as_ptr()) };
    }
}

/// Pretrains in one call: `Pretrainer::new`, the callbacks, `run`; the final progress. Stopped by `abort` (or a
/// `progress` that panics): `Status::Cancelled` (the panic), the model saved after the last completed step.
pub fn pretrain(
    lm: &mut Lm,
    corpus: impl AsRef<Path>,
    out_dir: impl AsRef<Path>,
    params: &PretrainParams,
    progress: impl FnMut(&PretrainProgress) + Send,
    abort: impl FnMut() -> bool + Send,
) -> Result<PretrainProgress> {
    let mut t = Pretrainer::new(lm, corpus, out_dir, params)?;
    t.set_progress(progress);
    t.set_abort(abort);
    t.run()?;
    t.progress()
}
