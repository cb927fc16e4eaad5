//! Training the encoder and projector through the frozen LM (`frz_train_*`).

use crate::error::{check, cpath, cstring, params_init, Result};
use crate::lm::Lm;
use crate::run::RunCallbacks;
use crate::sys;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// The progress after a step (`frz_train_progress`): step, total_steps, epoch, loss, lr, val_ppl, ...
pub type TrainProgress = sys::frz_train_progress;

/// Training settings; `Default` is the library's (`frz_train_params_init`, the paper's). See frozen.h for each.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainParams {
    pub vision_arch: String,
    pub vision_width: f32,
    pub image_size: i32,
    pub prefix_tokens: i32,
    pub batch_size: i32,
    pub micro_batch: i32,
    pub lr: f32,
    /// Share of the steps, at their end, over which the learning rate falls linearly towards 0 (0: constant).
    pub lr_decay: f32,
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
    pub blind: bool,
    pub resume: bool,
    pub seed: u64,
    pub n_threads: i32,
    /// COCO: the images' folder; None: the data file's folder.
    pub image_dir: Option<PathBuf>,
}

impl Default for TrainParams {
    fn default() -> Self {
        // SAFETY: the matching init function.
        let d = unsafe { params_init(sys::frz_train_params_init) };
        let arch = if d.vision_arch.is_null() {
            String::new()
        } else {
            // SAFETY: a static string of the library.
            unsafe { std::ffi::CStr::from_ptr(d.vision_arch) }.to_string_lossy().into_owned()
        };
        TrainParams {
            vision_arch: arch,
            vision_width: d.vision_width,
            image_size: d.image_size,
            prefix_tokens: d.prefix_tokens,
            batch_size: d.batch_size,
            micro_batch: d.micro_batch,
            lr: d.lr,
            lr_decay: d.lr_decay,
            beta1: d.beta1,
            beta2: d.beta2,
            adam_eps: d.adam_eps,
            weight_decay: d.weight_decay,
            grad_clip: d.grad_clip,
            epochs: d.epochs,
            max_steps: d.max_steps,
            val_fraction: d.val_fraction,
            val_every: d.val_every,
            patience: d.patience,
            max_caption_tokens: d.max_caption_tokens,
            checkpoint_every: d.checkpoint_every,
            blind: d.blind != 0,
            resume: d.resume != 0,
            seed: d.seed,
            n_threads: d.n_threads,
            image_dir: None,
        }
    }
}

/// A training run writing to its folder (vision.safetensors, projector.safetensors, checkpoint.safetensors,
/// metrics.csv, loss.png). `Send`, not `Sync`: "A frz_train is used by one thread"; it borrows the model.
pub struct Trainer<'m> {
    ptr: NonNull<sys::frz_train>,
    cb: RunCallbacks<'m, TrainProgress>,
    _lm: PhantomData<&'m Lm>,
}

// SAFETY: used by one thread at a time (&mut self to run); its callbacks are Send.
unsafe impl Send for Trainer<'_> {}

impl<'m> Trainer<'m> {
    /// Reads the data (a TSV of `image TAB caption` or a COCO captions JSON), splits it, and creates the models,
    /// or reads them from out_dir's checkpoint when `params.resume`.
    pub fn new(
        lm: &'m Lm,
        data: impl AsRef<Path>,
        out_dir: impl AsRef<Path>,
        params: &TrainParams,
    ) -> Result<Trainer<'m>> {
        let data = cpath(data.as_ref())?;
        let out_dir = cpath(out_dir.as_ref())?;
        let arch = cstring(&params.vision_arch, "vision_arch")?;
        let image_dir = params.image_dir.as_deref().map(cpath).transpose()?;
        // SAFETY: the matching init function.
        let mut p = unsafe { params_init(sys::frz_train_params_init) };
        p.vision_arch = arch.as_ptr();
        p.vision_width = params.vision_width;
        p.image_size = params.image_size;
        p.prefix_tokens = params.prefix_tokens;
        p.batch_size = params.batch_size;
        p.micro_batch = params.micro_batch;
        p.lr = params.lr;
        p.lr_decay = params.lr_decay;
        p.beta1 = params.beta1;
        p.beta2 = params.beta2;
        p.adam_eps = params.adam_eps;
        p.weight_decay = params.weight_decay;
        p.grad_clip = params.grad_clip;
        p.epochs = params.epochs;
        p.max_steps = params.max_steps;
        p.val_fraction = params.val_fraction;
        p.val_every = params.val_every;
        p.patience = params.patience;
        p.max_caption_tokens = params.max_caption_tokens;
        p.checkpoint_every = params.checkpoint_every;
        p.blind = params.blind as c_int;
        p.resume = params.resume as c_int;
        p.seed = params.seed;
        p.n_threads = params.n_threads;
        p.image_dir = image_dir.as_ref().map_or(std::ptr::null(), |d| d.as_ptr());
        // The trampolines are always installed; they do nothing until set_progress / set_abort.
        let cb = RunCallbacks::new();
        (p.progress, p.progress_data) = cb.progress_fn();
        (p.abort, p.abort_data) = cb.abort_fn();
        let mut out = std::ptr::null_mut();
        // SAFETY: valid strings (the library copies what it keeps) and a live model the borrow keeps alive.
        let st = unsafe { sys::frz_train_create(lm.as_ptr(), data.as_ptr(), out_dir.as_ptr(), &p, &mut out) };
        check(st)?; // on failure cb drops here: no C state points to it
        Ok(Trainer { ptr: NonNull::new(out).expect("frz_train_create: FRZ_OK and NULL"), cb, _lm: PhantomData })
    }

    /// Called after every step (after its validation, if any), on the thread running `run`.
    pub fn set_progress(&mut self, f: impl FnMut(&TrainProgress) + Send + 'm) {
        self.cb.set_progress(f);
    }
    /// Polled between steps and validation batches: true stops the run, which writes a checkpoint of the last
    /// completed step and returns `Status::Cancelled`. Resume with `TrainParams::resume`.
    pub fn set_abort(&mut self, f: impl FnMut() -> bool + Send + 'm) {
        self.cb.set_abort(f);
    }

    /// Trains until the epochs or max_steps are done or early stopping ends it. A panic in a callback stops the
    /// run (with a checkpoint) and resumes here.
    pub fn run(&mut self) -> Result<()> {
        // SAFETY: a live handle.
        let st = unsafe { sys::frz_train_run(self.ptr.as_ptr()) };
        self.cb.finish(st)
    }

    /// The latest progress.
    pub fn progress(&self) -> Result<TrainProgress> {
        let mut p = TrainProgress { struct_size: std::mem::size_of::<TrainProgress>(), ..Default::default() };
        // SAFETY: struct_size says how much may be written.
        check(unsafe { sys::frz_train_get_progress(self.ptr.as_ptr(), &mut p) })?;
        Ok(p)
    }

    pub fn as_ptr(&self) -> *mut sys::frz_train {
        self.ptr.as_ptr()
    }
}

impl Drop for Trainer<'_> {
    fn drop(&mut self) {
        // SAFETY: owned. The callbacks it pointed to are a field: they drop after this.
        unsafe { sys::frz_train_free(self.ptr.as_ptr()) };
    }
}
