//! The language model and its tokenizer.

use crate::error::{check, cpath, fill, fill_bytes, Result};
use crate::sys;
use std::path::Path;
use std::ptr::NonNull;

/// A property of the model (`frz_lm_prop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum LmProp {
    NLayer = sys::FRZ_LM_N_LAYER,
    NHead = sys::FRZ_LM_N_HEAD,
    NEmbd = sys::FRZ_LM_N_EMBD,
    NVocab = sys::FRZ_LM_N_VOCAB,
    NCtx = sys::FRZ_LM_N_CTX,
    EotToken = sys::FRZ_LM_EOT_TOKEN,
    NParams = sys::FRZ_LM_N_PARAMS,
}

/// A GPT-2 model (a Hugging Face folder), read-only once loaded. `Send + Sync`: the header lets any number of
/// threads use one model at once; sessions, prompts and trainers borrow it, so it outlives them.
pub struct Lm {
    ptr: NonNull<sys::frz_lm>,
}

// SAFETY: frozen.h: "frz_lm is read-only after frz_lm_load returns: any number of threads may use one model at
// once (tokenize, detokenize, sessions)". It is freed by whichever thread drops it, after its borrowers.
unsafe impl Send for Lm {}
unsafe impl Sync for Lm {}

impl Lm {
    /// Loads config.json, model.safetensors (or its sharded index), vocab.json and merges.txt from dir.
    pub fn load(dir: impl AsRef<Path>) -> Result<Lm> {
        let dir = cpath(dir.as_ref())?;
        let mut p = std::ptr::null_mut();
        // SAFETY: valid C string and out pointer.
        check(unsafe { sys::frz_lm_load(dir.as_ptr(), &mut p) })?;
        Ok(Lm { ptr: NonNull::new(p).expect("frz_lm_load gave FRZ_OK and NULL") })
    }

    pub fn get(&self, prop: LmProp) -> i64 {
        // SAFETY: a live handle.
        unsafe { sys::frz_lm_get(self.as_ptr(), prop as i32) }
    }
    pub fn n_layer(&self) -> usize {
        self.get(LmProp::NLayer) as usize
    }
    pub fn n_embd(&self) -> usize {
        self.get(LmProp::NEmbd) as usize
    }
    pub fn n_vocab(&self) -> usize {
        self.get(LmProp::NVocab) as usize
    }
    pub fn n_ctx(&self) -> usize {
        self.get(LmProp::NCtx) as usize
    }
    /// The id of `<|endoftext|>`, if the vocabulary has one.
    pub fn eot_token(&self) -> Option<i32> {
        let t = self.get(LmProp::EotToken);
        (t >= 0).then_some(t as i32)
    }

    /// GPT-2 byte-level BPE of text; special-token text (`<|endoftext|>`) is ordinary text.
    pub fn tokenize(&self, text: &str) -> Result<Vec<i32>> {
        self.tokenize_bytes(text.as_bytes(), false)
    }
    /// Any bytes (invalid UTF-8 never fails); `special`: parse special tokens (`FRZ_TOKENIZE_SPECIAL`).
    pub fn tokenize_bytes(&self, text: &[u8], special: bool) -> Result<Vec<i32>> {
        let flags = if special { sys::FRZ_TOKENIZE_SPECIAL } else { 0 };
        // Byte-level BPE gives at most one id per byte.
        fill(text.len() + 1, |ids, cap, n| {
            // SAFETY: text.len() bytes at text (a non-NULL pointer even when empty); ids holds cap.
            unsafe { sys::frz_tokenize(self.as_ptr(), text.as_ptr().cast(), text.len(), flags, ids, cap, n) }
        })
    }
    /// The ids' bytes: UTF-8 unless the ids split a character.
    pub fn detokenize(&self, ids: &[i32]) -> Result<Vec<u8>> {
        fill_bytes(ids.len() * 8 + 16, |text, cap, n| {
            // SAFETY: ids.len() ids; text holds cap bytes.
            unsafe { sys::frz_detokenize(self.as_ptr(), ids.as_ptr(), ids.len(), text, cap, n) }
        })
    }
    /// The same as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn detokenize_lossy(&self, ids: &[i32]) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.detokenize(ids)?).into_owned())
    }

    /// Takes ownership of a handle the library created (FRZ_OK with a non-NULL pointer).
    pub(crate) fn from_raw(p: *mut sys::frz_lm, what: &str) -> Lm {
        Lm { ptr: NonNull::new(p).unwrap_or_else(|| panic!("{what} gave FRZ_OK and NULL")) }
    }
    /// The raw handle, for calls that write the weights (`&mut self`: no session or borrower is alive).
    pub(crate) fn as_mut_ptr(&mut self) -> *mut sys::frz_lm {
        self.ptr.as_ptr()
    }

    /// The raw handle, for calls this crate does not wrap.
    pub fn as_ptr(&self) -> *const sys::frz_lm {
        self.ptr.as_ptr()
    }
}

impl Drop for Lm {
    fn drop(&mut self) {
        // SAFETY: owned; borrowers (sessions, prompts, trainers) are gone by the borrow rules.
        unsafe { sys::frz_lm_free(self.ptr.as_ptr()) }
    }
}
