//! Safe Rust bindings to libfrozen (`include/frozen.h`): Frozen, a frozen GPT-2 language model with a trained
//! vision encoder whose output, through a linear projector, becomes a visual prefix.
//!
//! ```no_run
//! use frozen::{GenerateParams, Lm, LogitsMode, Session};
//! let lm = Lm::load("models/gpt2")?;
//! let mut s = Session::new(&lm)?;              // per-thread state, borrows the model
//! s.eval_tokens(0, &lm.tokenize("Hello, my dog")?, LogitsMode::None)?;
//! let ids = s.generate(0, &GenerateParams { max_tokens: 20, ..Default::default() })?;
//! println!("{}", lm.detokenize_lossy(&ids)?);
//! # Ok::<(), frozen::Error>(())
//! ```
//!
//! What the wrapper adds to the C API:
//! - ownership: every handle frees itself on drop; sessions, prompts and trainers borrow their model (and a
//!   prompt its encoder and projector), so the borrow checker enforces the header's "outlive" rules;
//! - threads: `Lm`, `Vision`, `Projector`, `Image` and `Prompt` are `Send + Sync` (read-only, shareable per the
//!   header); `Session` and `Trainer` are `Send` but not `Sync` (one thread at a time);
//! - errors: `Result<T, Error>`, the error carrying the status and `frz_last_error()`'s message;
//! - buffers: calls of the (buffer, capacity, *needed) protocol return `Vec`s sized by the library;
//! - callbacks: closures for log, abort, streaming tokens and training progress. A panic inside one never
//!   unwinds through C: it stops the running call and resumes once that call has returned.
//!
//! The borrow and thread rules are checked by the compiler; these do not compile:
//!
//! ```compile_fail
//! fn shared<T: Sync>() {}
//! shared::<frozen::Session<'static>>(); // a session is used by one thread at a time
//! ```
//! ```compile_fail
//! fn shared<T: Sync>() {}
//! shared::<frozen::Trainer<'static>>();
//! ```
//! ```compile_fail
//! fn shared<T: Sync>() {}
//! shared::<frozen::Pretrainer<'static>>();
//! ```
//! ```compile_fail
//! let mut lm = frozen::Lm::load("models/gpt2").unwrap();
//! let s = frozen::Session::new(&lm).unwrap();
//! let t = frozen::Pretrainer::new(&mut lm, "c.txt", "out", &Default::default()); // trains the model in place
//! drop(s);
//! ```
//! ```compile_fail
//! let s = {
//!     let lm = frozen::Lm::load("models/gpt2").unwrap();
//!     frozen::Session::new(&lm).unwrap() // the session would outlive its model
//! };
//! ```
//!
//! The raw declarations are in [`sys`]. Adding a C function: declare it in `sys.rs`, then write a method that
//! calls it through `check` (or `fill` for buffer calls) in the module of its handle.

mod error;
mod lm;
mod pretrain;
mod prompt;
mod run;
mod session;
pub mod sys;
mod train;
mod vision;

pub use error::{last_error, Error, Result, Status};
pub use lm::{Lm, LmProp};
pub use pretrain::{
    pretrain, tokenizer_train, tokenizer_train_with_abort, LmConfig, PretrainParams, PretrainProgress, Pretrainer,
    TokenizerTrainOptions, TokenizerTrainStats,
};
pub use prompt::{Prompt, Segment, SegmentKind};
pub use session::{GenerateParams, Input, LogitsMode, Score, Session};
pub use train::{TrainParams, TrainProgress, Trainer};
pub use vision::{image_prefix, Image, Projector, ProjectorProp, Vision, VisionProp};

/// Position value: this position takes an embedding vector instead of a token.
pub const TOKEN_EMBEDDING: i32 = sys::FRZ_TOKEN_EMBEDDING;

use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::sync::{Arc, RwLock};

/// The library version linked at run time (compare with `sys::FRZ_VERSION_NUMBER`, the header's).
pub fn version_number() -> u32 {
    // SAFETY: no arguments.
    unsafe { sys::frz_version_number() }
}
pub fn version_string() -> String {
    // SAFETY: a static string.
    unsafe { CStr::from_ptr(sys::frz_version_string()) }.to_string_lossy().into_owned()
}
/// The OpenBLAS core in use.
pub fn blas_corename() -> String {
    // SAFETY: a static string, never NULL.
    unsafe { CStr::from_ptr(sys::frz_blas_corename()) }.to_string_lossy().into_owned()
}
/// Advice when the BLAS kernel does not suit this CPU (e.g. set OPENBLAS_CORETYPE); None when it does.
pub fn blas_advice() -> Option<String> {
    // SAFETY: NULL or a static string.
    let p = unsafe { sys::frz_blas_advice() };
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// A log level (`frz_log_level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum LogLevel {
    Error = sys::FRZ_LOG_ERROR,
    Warn = sys::FRZ_LOG_WARN,
    Info = sys::FRZ_LOG_INFO,
    Debug = sys::FRZ_LOG_DEBUG,
}

type LogFn = dyn Fn(LogLevel, &str) + Send + Sync;
static LOGGER: RwLock<Option<Arc<LogFn>>> = RwLock::new(None);

unsafe extern "C" fn log_trampoline(level: sys::frz_log_level, text: *const c_char, _: *mut c_void) {
    let f = match LOGGER.read() {
        Ok(g) => g.clone(),
        Err(_) => return,
    };
    let Some(f) = f else { return };
    let level = match level {
        sys::FRZ_LOG_ERROR => LogLevel::Error,
        sys::FRZ_LOG_WARN => LogLevel::Warn,
        sys::FRZ_LOG_INFO => LogLevel::Info,
        _ => LogLevel::Debug,
    };
    // SAFETY: one line, valid during the call.
    let text = if text.is_null() { Default::default() } else { unsafe { CStr::from_ptr(text) }.to_string_lossy() };
    // A logger has nowhere to report a panic; it is dropped rather than unwinding through C.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(level, &text)));
}

/// Sends the library's messages up to max_level to f, from any thread (process-wide, as in the C API).
pub fn set_log_callback(f: impl Fn(LogLevel, &str) + Send + Sync + 'static, max_level: LogLevel) {
    *LOGGER.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(f));
    // SAFETY: the trampoline reads the logger under its lock.
    unsafe { sys::frz_set_log_callback(Some(log_trampoline), std::ptr::null_mut(), max_level as i32) }
}

/// Silences the library again (the default).
pub fn clear_log_callback() {
    // SAFETY: NULL silences.
    unsafe { sys::frz_set_log_callback(None, std::ptr::null_mut(), sys::FRZ_LOG_ERROR) }
    *LOGGER.write().unwrap_or_else(|e| e.into_inner()) = None;
}
