//! Sessions: per-thread state over a model (sequence slots with KV caches); eval, generation, scoring, prompts,
//! captions.

use crate::error::{check, cstring, fill_bytes, params_init, Error, PanicSlot, Result, Status};
use crate::lm::Lm;
use crate::prompt::Prompt;
use crate::sys;
use crate::vision::{Image, Projector, Vision};
use std::ffi::CString;
use std::marker::PhantomData;
use std::ops::ControlFlow;
use std::os::raw::{c_char, c_int, c_void};
use std::ptr::NonNull;

/// Which logits an eval keeps (`frz_logits_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum LogitsMode {
    /// Each input's last new position: one row per input.
    Last = sys::FRZ_LOGITS_LAST,
    /// Every new position, inputs in order.
    All = sys::FRZ_LOGITS_ALL,
    /// None (prefill); the last position's logits are still kept for generation.
    None = sys::FRZ_LOGITS_NONE,
}

/// New positions for one sequence slot: token ids, embedding vectors (whole vectors of the model's width), or
/// both, where `tokens[i] == FRZ_TOKEN_EMBEDDING` takes position i from `embd[i * n_embd..]`.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    pub seq: i32,
    pub tokens: Option<&'a [i32]>,
    pub embd: Option<&'a [f32]>,
}

impl<'a> Input<'a> {
    pub fn tokens(seq: i32, tokens: &'a [i32]) -> Input<'a> {
        Input { seq, tokens: Some(tokens), embd: None }
    }
    pub fn embeddings(seq: i32, embd: &'a [f32]) -> Input<'a> {
        Input { seq, tokens: None, embd: Some(embd) }
    }
    /// tokens.len() positions; embd holds tokens.len() * n_embd floats (read where a token is
    /// `FRZ_TOKEN_EMBEDDING`).
    pub fn mixed(seq: i32, tokens: &'a [i32], embd: &'a [f32]) -> Input<'a> {
        Input { seq, tokens: Some(tokens), embd: Some(embd) }
    }

    fn to_raw(self, n_embd: usize) -> Result<sys::frz_input> {
        let shape = |m: String| Error::new(Status::Shape, m);
        let n = match (self.tokens, self.embd) {
            (Some(t), None) => t.len(),
            (None, Some(e)) if n_embd > 0 && e.len() % n_embd == 0 => e.len() / n_embd,
            (None, Some(e)) => return Err(shape(format!("{} floats are not whole vectors of {n_embd}", e.len()))),
            (Some(t), Some(e)) if e.len() == t.len() * n_embd => t.len(),
            (Some(t), Some(e)) => {
                return Err(shape(format!("{} positions need {} floats, {} given", t.len(), t.len() * n_embd, e.len())))
            }
            (None, None) => return Err(Error::new(Status::InvalidArg, "an input without tokens or embeddings")),
        };
        Ok(sys::frz_input {
            seq: self.seq,
            n,
            tokens: self.tokens.map_or(std::ptr::null(), |t| t.as_ptr()),
            embd: self.embd.map_or(std::ptr::null(), |e| e.as_ptr()),
        })
    }
}

/// Generation settings; `Default` is the library's (`frz_generate_params_init`): greedy, 64 tokens, stop at
/// `<|endoftext|>`.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateParams {
    pub max_tokens: i32,
    /// <= 0: greedy.
    pub temperature: f32,
    /// 0: off.
    pub top_k: i32,
    /// 1: off.
    pub top_p: f32,
    pub stop_at_eot: bool,
    /// Stop strings: the output ends before the token in which one begins.
    pub stop: Vec<String>,
}

impl Default for GenerateParams {
    fn default() -> Self {
        // SAFETY: the matching init function of a sys parameter struct.
        let d = unsafe { params_init(sys::frz_generate_params_init) };
        GenerateParams {
            max_tokens: d.max_tokens,
            temperature: d.temperature,
            top_k: d.top_k,
            top_p: d.top_p,
            stop_at_eot: d.stop_at_eot != 0,
            stop: Vec::new(),
        }
    }
}

/// The log-probability of a continuation: the total and each token's.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    pub total: f64,
    pub per_token: Vec<f32>,
}

/// An abort callback: true stops the running call (which returns `Status::Cancelled`).
type AbortFn<'m> = Box<dyn FnMut() -> bool + Send + 'm>;

struct Callbacks<'m> {
    abort: Option<AbortFn<'m>>,
    panic: PanicSlot,
}

/// Per-thread state over a model: up to `max_seqs` sequence slots, each with its KV cache, and the RNG.
///
/// `Send` but not `Sync`: frozen.h lets one thread at a time use a session ("create one session per thread"), so
/// a session may move to another thread but not be shared. It borrows its model, which therefore outlives it.
pub struct Session<'m> {
    ptr: NonNull<sys::frz_session>,
    // Heap state whose address the C library holds (abort callback), freed in Drop; a raw pointer, not a Box,
    // because the library writes through it while we hold `&mut self`.
    cb: NonNull<Callbacks<'m>>,
    n_vocab: usize,
    n_embd: usize,
    _lm: PhantomData<&'m Lm>,
}

// SAFETY: the session's C state is used by one thread at a time (`&mut self` for every call that changes it); the
// callbacks it holds are Send.
unsafe impl Send for Session<'_> {}

// The token callback of one generate call, on the caller's stack.
struct TokenCb<'a> {
    f: &'a mut dyn FnMut(i32) -> ControlFlow<()>,
    panic: PanicSlot,
}

unsafe extern "C" fn abort_trampoline(user: *mut c_void) -> c_int {
    // SAFETY: user is the session's Callbacks, alive while the session is.
    let cb = unsafe { &mut *user.cast::<Callbacks<'_>>() };
    let Callbacks { abort, panic } = cb;
    match abort {
        Some(f) => panic.guard(1, || f() as c_int),
        None => 0,
    }
}

unsafe extern "C" fn token_trampoline(token: i32, user: *mut c_void) -> c_int {
    // SAFETY: user is the TokenCb of the running generate call.
    let cb = unsafe { &mut *user.cast::<TokenCb<'_>>() };
    let f = &mut cb.f;
    cb.panic.guard(1, || if f(token).is_break() { 1 } else { 0 })
}

impl<'m> Session<'m> {
    pub fn new(lm: &'m Lm) -> Result<Session<'m>> {
        let mut p = std::ptr::null_mut();
        // SAFETY: a live model and an out pointer.
        check(unsafe { sys::frz_session_create(lm.as_ptr(), &mut p) })?;
        let cb = Box::new(Callbacks { abort: None, panic: PanicSlot::default() });
        Ok(Session {
            ptr: NonNull::new(p).expect("frz_session_create gave FRZ_OK and NULL"),
            cb: NonNull::from(Box::leak(cb)),
            n_vocab: lm.n_vocab(),
            n_embd: lm.n_embd(),
            _lm: PhantomData,
        })
    }

    fn set_int(&mut self, opt: sys::frz_session_opt, value: i64) -> Result<()> {
        // SAFETY: a live session.
        check(unsafe { sys::frz_session_set_int(self.ptr.as_ptr(), opt, value) })
    }
    /// Threads for this session's work (>= 1; default 1).
    pub fn set_threads(&mut self, n: i64) -> Result<()> {
        self.set_int(sys::FRZ_OPT_THREADS, n)
    }
    /// Reseeds the sampling RNG.
    pub fn set_seed(&mut self, seed: i64) -> Result<()> {
        self.set_int(sys::FRZ_OPT_SEED, seed)
    }
    /// Number of sequence slots (1..4096); changing it clears all.
    pub fn set_max_seqs(&mut self, n: i64) -> Result<()> {
        self.set_int(sys::FRZ_OPT_MAX_SEQS, n)
    }

    /// An abort callback, polled between layers and tokens: returning true stops the running call with
    /// `Status::Cancelled` (a cancelled eval leaves its sequences unchanged). A panic inside it stops the call and
    /// resumes once the call has returned.
    pub fn set_abort(&mut self, f: impl FnMut() -> bool + Send + 'm) {
        self.install_abort(Some(Box::new(f)));
    }
    pub fn clear_abort(&mut self) {
        self.install_abort(None);
    }
    fn install_abort(&mut self, f: Option<AbortFn<'m>>) {
        let fun: Option<sys::frz_abort_fn> = if f.is_some() { Some(abort_trampoline) } else { None };
        // SAFETY: the callbacks live until Drop; no C call is running (we hold &mut self).
        unsafe { self.cb.as_mut() }.abort = f;
        // SAFETY: the trampoline's data is the callbacks, which outlive the session's C state (freed first).
        unsafe { sys::frz_session_set_abort(self.ptr.as_ptr(), fun, self.cb.as_ptr().cast()) }
    }

    /// Runs a C call that may poll the abort callback: a panic in the callback resumes here.
    fn run(&mut self, call: impl FnOnce(*mut sys::frz_session) -> sys::frz_status) -> Result<()> {
        let st = call(self.ptr.as_ptr());
        // SAFETY: the call has returned; nothing else references the callbacks.
        unsafe { self.cb.as_mut() }.panic.finish(st)
    }

    /// Appends each input to its sequence and runs the model over all of them in one batched pass.
    pub fn eval(&mut self, inputs: &[Input<'_>], mode: LogitsMode) -> Result<()> {
        let raw = inputs.iter().map(|i| i.to_raw(self.n_embd)).collect::<Result<Vec<_>>>()?;
        // SAFETY: raw's pointers borrow the inputs' slices, whose lengths were checked against n.
        self.run(|s| unsafe { sys::frz_session_eval(s, raw.as_ptr(), raw.len(), mode as i32) })
    }
    /// Appends tokens to sequence seq.
    pub fn eval_tokens(&mut self, seq: i32, tokens: &[i32], mode: LogitsMode) -> Result<()> {
        self.eval(&[Input::tokens(seq, tokens)], mode)
    }
    /// Appends embedding vectors (whole vectors of the model's width) to sequence seq.
    pub fn eval_embeddings(&mut self, seq: i32, embd: &[f32], mode: LogitsMode) -> Result<()> {
        self.eval(&[Input::embeddings(seq, embd)], mode)
    }

    /// Row `row` of the latest eval's logits (n_vocab floats); None when out of range. The borrow ends before
    /// the session's next call, as the header requires.
    pub fn logits(&self, row: usize) -> Option<&[f32]> {
        // SAFETY: a live session; the row holds n_vocab floats, valid until the next call (which needs &mut).
        let p = unsafe { sys::frz_session_logits(self.ptr.as_ptr(), row) };
        (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, self.n_vocab) })
    }
    /// Positions stored in slot seq; None when seq is out of range.
    pub fn seq_len(&self, seq: i32) -> Option<usize> {
        // SAFETY: a live session.
        let n = unsafe { sys::frz_session_seq_len(self.ptr.as_ptr(), seq) };
        (n >= 0).then_some(n as usize)
    }
    /// Shortens slot seq (-1: every slot) to n positions.
    pub fn truncate(&mut self, seq: i32, n: usize) -> Result<()> {
        // SAFETY: a live session.
        check(unsafe { sys::frz_session_seq_truncate(self.ptr.as_ptr(), seq, n) })
    }
    /// Makes slot dst a copy of slot src (KV cache and last logits).
    pub fn copy_seq(&mut self, src: i32, dst: i32) -> Result<()> {
        // SAFETY: a live session.
        check(unsafe { sys::frz_session_seq_copy(self.ptr.as_ptr(), src, dst) })
    }

    /// Continues sequence seq; returns the new ids (also appended to the sequence).
    pub fn generate(&mut self, seq: i32, params: &GenerateParams) -> Result<Vec<i32>> {
        self.generate_impl(params, None, |s, gp, out, cap, n| unsafe { sys::frz_generate(s, seq, gp, out, cap, n) })
    }
    /// The same, calling on_token after each new token: `ControlFlow::Break(())` stops generation (not an error).
    /// When the abort callback stops it, the error is `Status::Cancelled` and the sequence holds exactly the
    /// tokens passed to on_token.
    pub fn generate_with(
        &mut self,
        seq: i32,
        params: &GenerateParams,
        mut on_token: impl FnMut(i32) -> ControlFlow<()>,
    ) -> Result<Vec<i32>> {
        self.generate_impl(params, Some(&mut on_token), |s, gp, out, cap, n| unsafe {
            sys::frz_generate(s, seq, gp, out, cap, n)
        })
    }

    fn generate_impl(
        &mut self,
        params: &GenerateParams,
        on_token: Option<&mut dyn FnMut(i32) -> ControlFlow<()>>,
        call: impl FnOnce(
            *mut sys::frz_session,
            *const sys::frz_generate_params,
            *mut i32,
            usize,
            &mut usize,
        ) -> sys::frz_status,
    ) -> Result<Vec<i32>> {
        let stops = params.stop.iter().map(|s| cstring(s, "a stop string")).collect::<Result<Vec<CString>>>()?;
        let stop_ptrs: Vec<*const c_char> = stops.iter().map(|s| s.as_ptr()).collect();
        // SAFETY: the matching init function.
        let mut gp = unsafe { params_init(sys::frz_generate_params_init) };
        gp.max_tokens = params.max_tokens;
        gp.temperature = params.temperature;
        gp.top_k = params.top_k;
        gp.top_p = params.top_p;
        gp.stop_at_eot = params.stop_at_eot as c_int;
        gp.stop = if stop_ptrs.is_empty() { std::ptr::null() } else { stop_ptrs.as_ptr() };
        gp.n_stop = stop_ptrs.len();
        let mut tcb = on_token.map(|f| TokenCb { f, panic: PanicSlot::default() });
        if let Some(t) = tcb.as_mut() {
            gp.on_token = Some(token_trampoline);
            gp.on_token_data = (t as *mut TokenCb<'_>).cast();
        }
        let mut out = vec![0i32; params.max_tokens.max(0) as usize + 1];
        let mut n = 0usize;
        let st = call(self.ptr.as_ptr(), &gp, out.as_mut_ptr(), out.len(), &mut n);
        if let Some(t) = tcb.as_mut() {
            t.panic.finish(sys::FRZ_OK)?; // a panic in on_token resumes first
        }
        self.run(|_| st)?;
        out.truncate(n);
        Ok(out)
    }

    /// The log-probability of continuation tokens given slot seq (which is left as it was).
    pub fn score(&mut self, seq: i32, cont: &[i32]) -> Result<Score> {
        let mut r = Score { total: 0.0, per_token: vec![0.0; cont.len()] };
        let (per, total) = (r.per_token.as_mut_ptr(), &mut r.total as *mut f64);
        // SAFETY: cont.len() ids in and floats out.
        self.run(|s| unsafe { sys::frz_score(s, seq, cont.as_ptr(), cont.len(), per, total) })?;
        Ok(r)
    }

    // ---- prompts: appended to what slot seq already holds (truncate it to 0 to start afresh) ----

    /// Evaluates (prefills) the whole prompt in one call.
    pub fn eval_prompt(&mut self, seq: i32, prompt: &Prompt<'_>, mode: LogitsMode) -> Result<()> {
        // SAFETY: live handles.
        self.run(|s| unsafe { sys::frz_prompt_eval(s, seq, prompt.as_ptr(), mode as i32) })
    }
    /// Evaluates positions first..first+n of the prompt.
    pub fn eval_prompt_range(
        &mut self,
        seq: i32,
        prompt: &Prompt<'_>,
        first: usize,
        n: usize,
        mode: LogitsMode,
    ) -> Result<()> {
        // SAFETY: live handles.
        self.run(|s| unsafe { sys::frz_prompt_eval_range(s, seq, prompt.as_ptr(), first, n, mode as i32) })
    }
    /// Evaluates the prompt (None: continues the slot as it stands), then generates; `stop_newline` also stops
    /// at a newline.
    pub fn generate_prompt(
        &mut self,
        seq: i32,
        prompt: Option<&Prompt<'_>>,
        params: &GenerateParams,
        stop_newline: bool,
    ) -> Result<Vec<i32>> {
        let pr = prompt.map_or(std::ptr::null(), |p| p.as_ptr());
        let flags = if stop_newline { sys::FRZ_PROMPT_STOP_NEWLINE } else { 0 };
        self.generate_impl(params, None, |s, gp, out, cap, n| unsafe {
            sys::frz_prompt_generate(s, seq, pr, gp, flags, out, cap, n)
        })
    }
    /// Evaluates the prompt (None: nothing), then the natural-log probability of each candidate text.
    pub fn score_prompt(&mut self, seq: i32, prompt: Option<&Prompt<'_>>, candidates: &[&str]) -> Result<Vec<f64>> {
        let c = candidates.iter().map(|s| cstring(s, "a candidate")).collect::<Result<Vec<CString>>>()?;
        let ptrs: Vec<*const c_char> = c.iter().map(|s| s.as_ptr()).collect();
        let pr = prompt.map_or(std::ptr::null(), |p| p.as_ptr());
        let mut out = vec![0.0f64; candidates.len()];
        let o = out.as_mut_ptr();
        // SAFETY: n candidates in, n doubles out.
        self.run(|s| unsafe { sys::frz_prompt_score(s, seq, pr, ptrs.as_ptr(), ptrs.len(), o) })?;
        Ok(out)
    }

    /// Greedy caption of an image on slot seq (cleared first), up to max_tokens tokens; the caption's bytes.
    pub fn caption_bytes(
        &mut self,
        seq: i32,
        v: &Vision,
        p: &Projector,
        img: &Image,
        max_tokens: i32,
    ) -> Result<Vec<u8>> {
        let mut text = Vec::new();
        let guess = max_tokens.max(1) as usize * 8 + 64;
        self.run(|s| {
            // Greedy: a rerun after a short first guess gives the same caption.
            match fill_bytes(guess, |t, cap, n| unsafe {
                sys::frz_caption(s, seq, v.as_ptr(), p.as_ptr(), img.as_ptr(), max_tokens, t, cap, n)
            }) {
                Ok(b) => {
                    text = b;
                    sys::FRZ_OK
                }
                Err(e) => e.status().code(),
            }
        })?;
        Ok(text)
    }
    /// The caption as text (invalid UTF-8 replaced).
    pub fn caption(&mut self, seq: i32, v: &Vision, p: &Projector, img: &Image, max_tokens: i32) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.caption_bytes(seq, v, p, img, max_tokens)?).into_owned())
    }

    /// The raw handle, for calls this crate does not wrap.
    pub fn as_ptr(&self) -> *mut sys::frz_session {
        self.ptr.as_ptr()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // SAFETY: owned; the C state goes first, then the callbacks it pointed to.
        unsafe {
            sys::frz_session_free(self.ptr.as_ptr());
            drop(Box::from_raw(self.cb.as_ptr()));
        }
    }
}
