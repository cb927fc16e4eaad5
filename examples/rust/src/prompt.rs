//! Prompts that interleave text, images and embedding vectors (run them with `Session::eval_prompt`,
//! `generate_prompt`, `score_prompt`).

use crate::error::{check, cpath, cstring, fill, Error, Result, Status};
use crate::lm::Lm;
use crate::sys;
use crate::vision::{check_rgb8, Image, Projector, Vision};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::NonNull;

/// What a segment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    Text,
    Image,
    Embedding,
    Other(i32),
}

/// One appended segment: its kind and positions start..start + n.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub kind: SegmentKind,
    pub start: usize,
    pub n: usize,
}

/// A prompt for a model, optionally with an encoder and projector for its images; it borrows them all.
///
/// `Send + Sync`: running a prompt only reads it ("one prompt may be run on many slots and sessions"), and
/// changing it needs `&mut`.
pub struct Prompt<'a> {
    ptr: NonNull<sys::frz_prompt>,
    n_embd: usize,
    _borrows: PhantomData<(&'a Lm, &'a Vision, &'a Projector)>,
}

// SAFETY: see above; the handles it points to are Sync themselves.
unsafe impl Send for Prompt<'_> {}
unsafe impl Sync for Prompt<'_> {}

impl<'a> Prompt<'a> {
    /// A prompt without an encoder: text and embeddings, or images through `add_image_with`.
    pub fn new(lm: &'a Lm) -> Result<Prompt<'a>> {
        Self::create(lm, std::ptr::null(), std::ptr::null())
    }
    /// A prompt whose images go through v and p.
    pub fn with_encoder(lm: &'a Lm, v: &'a Vision, p: &'a Projector) -> Result<Prompt<'a>> {
        Self::create(lm, v.as_ptr(), p.as_ptr())
    }
    fn create(lm: &'a Lm, v: *const sys::frz_vision, p: *const sys::frz_projector) -> Result<Prompt<'a>> {
        let mut out = std::ptr::null_mut();
        // SAFETY: live handles (or NULL for v and p) that the borrow keeps alive.
        check(unsafe { sys::frz_prompt_create(lm.as_ptr(), v, p, &mut out) })?;
        Ok(Prompt {
            ptr: NonNull::new(out).expect("frz_prompt_create: FRZ_OK and NULL"),
            n_embd: lm.n_embd(),
            _borrows: PhantomData,
        })
    }

    /// Threads that encode images (>= 1).
    pub fn set_threads(&mut self, n: i64) -> Result<()> {
        // SAFETY: a live handle.
        check(unsafe { sys::frz_prompt_set_int(self.ptr.as_ptr(), sys::FRZ_PROMPT_OPT_THREADS, n) })
    }
    /// Images appended afterwards become black images (the paper's blind baseline).
    pub fn set_blind(&mut self, on: bool) -> Result<()> {
        // SAFETY: a live handle.
        check(unsafe { sys::frz_prompt_set_int(self.ptr.as_ptr(), sys::FRZ_PROMPT_OPT_BLIND, on as i64) })
    }
    /// Removes every segment.
    pub fn clear(&mut self) {
        // SAFETY: a live handle.
        unsafe { sys::frz_prompt_clear(self.ptr.as_ptr()) }
    }

    /// Text, tokenized on its own (no space added).
    pub fn add_text(&mut self, text: &str) -> Result<&mut Self> {
        self.add_text_bytes(text.as_bytes(), false)
    }
    /// Any bytes; `special` parses special tokens.
    pub fn add_text_bytes(&mut self, text: &[u8], special: bool) -> Result<&mut Self> {
        let flags = if special { sys::FRZ_TOKENIZE_SPECIAL } else { 0 };
        // SAFETY: text.len() bytes.
        check(unsafe { sys::frz_prompt_add_text(self.ptr.as_ptr(), text.as_ptr().cast(), text.len(), flags) })?;
        Ok(self)
    }
    /// An image, encoded now with the prompt's encoder and projector.
    pub fn add_image(&mut self, img: &Image) -> Result<&mut Self> {
        // SAFETY: live handles.
        check(unsafe { sys::frz_prompt_add_image(self.ptr.as_ptr(), img.as_ptr()) })?;
        Ok(self)
    }
    /// An image encoded with another encoder and projector (used during this call only).
    pub fn add_image_with(&mut self, img: &Image, v: &Vision, p: &Projector) -> Result<&mut Self> {
        // SAFETY: live handles.
        check(unsafe { sys::frz_prompt_add_image_with(self.ptr.as_ptr(), img.as_ptr(), v.as_ptr(), p.as_ptr()) })?;
        Ok(self)
    }
    pub fn add_image_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self> {
        let path = cpath(path.as_ref())?;
        // SAFETY: a C string.
        check(unsafe { sys::frz_prompt_add_image_file(self.ptr.as_ptr(), path.as_ptr()) })?;
        Ok(self)
    }
    pub fn add_image_memory(&mut self, bytes: &[u8], name: &str) -> Result<&mut Self> {
        let name = cstring(name, "an image name")?;
        let np = if name.as_bytes().is_empty() { std::ptr::null() } else { name.as_ptr() };
        // SAFETY: bytes.len() bytes.
        check(unsafe { sys::frz_prompt_add_image_memory(self.ptr.as_ptr(), bytes.as_ptr().cast(), bytes.len(), np) })?;
        Ok(self)
    }
    pub fn add_image_rgb8(
        &mut self,
        pixels: &[u8],
        width: i32,
        height: i32,
        stride: Option<usize>,
    ) -> Result<&mut Self> {
        let stride = check_rgb8(pixels, width, height, stride)?;
        // SAFETY: the rows were checked to lie within pixels.
        check(unsafe { sys::frz_prompt_add_image_rgb8(self.ptr.as_ptr(), pixels.as_ptr(), width, height, stride) })?;
        Ok(self)
    }
    /// Whole vectors of the model's width, one position each (copied).
    pub fn add_embeddings(&mut self, embd: &[f32]) -> Result<&mut Self> {
        if self.n_embd == 0 || embd.len() % self.n_embd != 0 {
            return Err(Error::new(
                Status::Shape,
                format!("{} floats are not whole vectors of {}", embd.len(), self.n_embd),
            ));
        }
        let n = embd.len() / self.n_embd;
        // SAFETY: n * n_embd floats.
        check(unsafe { sys::frz_prompt_add_embeddings(self.ptr.as_ptr(), embd.as_ptr(), n) })?;
        Ok(self)
    }

    /// Number of positions.
    pub fn len(&self) -> usize {
        // SAFETY: a live handle.
        unsafe { sys::frz_prompt_len(self.ptr.as_ptr()) }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Every position's id; `FRZ_TOKEN_EMBEDDING` at image and embedding positions.
    pub fn tokens(&self) -> Result<Vec<i32>> {
        // SAFETY: ids holds cap.
        fill(self.len(), |ids, cap, n| unsafe { sys::frz_prompt_tokens(self.ptr.as_ptr(), ids, cap, n) })
    }
    /// The vector entering position pos; None at a token position or out of range.
    pub fn embedding(&self, pos: usize) -> Option<&[f32]> {
        // SAFETY: n_embd floats, valid until the prompt changes (which needs &mut self).
        let p = unsafe { sys::frz_prompt_embedding(self.ptr.as_ptr(), pos) };
        (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, self.n_embd) })
    }
    pub fn segments(&self) -> Result<Vec<Segment>> {
        // SAFETY: a live handle.
        let n = unsafe { sys::frz_prompt_n_segments(self.ptr.as_ptr()) };
        (0..n)
            .map(|i| {
                let (mut kind, mut start, mut len) = (0, 0, 0);
                // SAFETY: out pointers.
                check(unsafe { sys::frz_prompt_segment(self.ptr.as_ptr(), i, &mut kind, &mut start, &mut len) })?;
                let kind = match kind {
                    sys::FRZ_PROMPT_SEG_TEXT => SegmentKind::Text,
                    sys::FRZ_PROMPT_SEG_IMAGE => SegmentKind::Image,
                    sys::FRZ_PROMPT_SEG_EMBEDDING => SegmentKind::Embedding,
                    k => SegmentKind::Other(k),
                };
                Ok(Segment { kind, start, n: len })
            })
            .collect()
    }

    /// The raw handle, for calls this crate does not wrap.
    pub fn as_ptr(&self) -> *const sys::frz_prompt {
        self.ptr.as_ptr()
    }
}

impl Drop for Prompt<'_> {
    fn drop(&mut self) {
        // SAFETY: owned.
        unsafe { sys::frz_prompt_free(self.ptr.as_ptr()) }
    }
}
