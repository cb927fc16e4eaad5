//! Images, the NF-ResNet vision encoder, the projector, and the visual prefix.
//!
//! All three are immutable or read-only once made, and frozen.h lets threads share them: `Send + Sync`.

use crate::error::{check, cpath, cstring, fill, Error, Result, Status};
use crate::sys;
use std::path::Path;
use std::ptr::NonNull;

macro_rules! owned_handle {
    ($name:ident, $raw:ty, $free:path) => {
        // SAFETY: frozen.h: images are immutable ("threads may share it"); encoders and projectors are read-only
        // once created or loaded ("any number of threads may encode with one at once").
        unsafe impl Send for $name {}
        unsafe impl Sync for $name {}
        impl Drop for $name {
            fn drop(&mut self) {
                // SAFETY: owned; borrowers are gone.
                unsafe { $free(self.ptr.as_ptr()) }
            }
        }
        impl $name {
            /// The raw handle, for calls this crate does not wrap.
            pub fn as_ptr(&self) -> *const $raw {
                self.ptr.as_ptr()
            }
            fn from_out(p: *mut $raw) -> Self {
                $name { ptr: NonNull::new(p).expect(concat!(stringify!($raw), ": FRZ_OK and NULL")) }
            }
        }
    };
}

/// A decoded 8-bit RGB image (PNG or JPEG).
pub struct Image {
    ptr: NonNull<sys::frz_image>,
}
owned_handle!(Image, sys::frz_image, sys::frz_image_free);

impl Image {
    pub fn load_file(path: impl AsRef<Path>) -> Result<Image> {
        let path = cpath(path.as_ref())?;
        let mut p = std::ptr::null_mut();
        // SAFETY: C string and out pointer.
        check(unsafe { sys::frz_image_load_file(path.as_ptr(), &mut p) })?;
        Ok(Image::from_out(p))
    }
    /// Decodes bytes in memory; name (may be empty) names the input in error messages.
    pub fn load_memory(bytes: &[u8], name: &str) -> Result<Image> {
        let name = cstring(name, "an image name")?;
        let np = if name.as_bytes().is_empty() { std::ptr::null() } else { name.as_ptr() };
        let mut p = std::ptr::null_mut();
        // SAFETY: bytes.len() bytes.
        check(unsafe { sys::frz_image_load_memory(bytes.as_ptr().cast(), bytes.len(), np, &mut p) })?;
        Ok(Image::from_out(p))
    }
    /// Copies height rows of width * 3 bytes (R, G, B), row r at r * stride (None: tightly packed).
    pub fn from_rgb8(pixels: &[u8], width: i32, height: i32, stride: Option<usize>) -> Result<Image> {
        let stride = check_rgb8(pixels, width, height, stride)?;
        let mut p = std::ptr::null_mut();
        // SAFETY: the rows were checked to lie within pixels.
        check(unsafe { sys::frz_image_from_rgb8(pixels.as_ptr(), width, height, stride, &mut p) })?;
        Ok(Image::from_out(p))
    }
    pub fn width(&self) -> i32 {
        // SAFETY: a live handle.
        unsafe { sys::frz_image_width(self.as_ptr()) }
    }
    pub fn height(&self) -> i32 {
        // SAFETY: a live handle.
        unsafe { sys::frz_image_height(self.as_ptr()) }
    }
    /// (height, width, 3) bytes.
    pub fn pixels(&self) -> &[u8] {
        let n = self.width() as usize * self.height() as usize * 3;
        // SAFETY: the image's pixels, valid until it is freed (the borrow of self).
        unsafe { std::slice::from_raw_parts(sys::frz_image_pixels(self.as_ptr()), n) }
    }
}

/// The stride to pass for an RGB8 buffer, once its rows are known to lie within pixels.
pub(crate) fn check_rgb8(pixels: &[u8], width: i32, height: i32, stride: Option<usize>) -> Result<usize> {
    let row = width.max(0) as usize * 3;
    let stride = stride.unwrap_or(row);
    let need = if height > 0 { stride * (height as usize - 1) + row } else { 0 };
    if pixels.len() < need || stride < row {
        return Err(Error::new(
            Status::Shape,
            format!("{} bytes do not hold {height} rows of {width} RGB pixels at stride {stride}", pixels.len()),
        ));
    }
    Ok(stride)
}

/// A property of an encoder (`frz_vision_prop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum VisionProp {
    NFeatures = sys::FRZ_VISION_N_FEATURES,
    ImageSize = sys::FRZ_VISION_IMAGE_SIZE,
    NParams = sys::FRZ_VISION_N_PARAMS,
}

/// The NF-ResNet image encoder.
pub struct Vision {
    ptr: NonNull<sys::frz_vision>,
}
owned_handle!(Vision, sys::frz_vision, sys::frz_vision_free);

impl Vision {
    /// A new encoder initialised as timm does: arch "nf_resnet50", "nf_resnet26" or "tiny"; width multiplies
    /// the channels; images are resized to image_size.
    pub fn create(arch: &str, width: f32, image_size: i32, seed: u64) -> Result<Vision> {
        let arch = cstring(arch, "an architecture name")?;
        let mut p = std::ptr::null_mut();
        // SAFETY: C string and out pointer.
        check(unsafe { sys::frz_vision_create(arch.as_ptr(), width, image_size, seed, &mut p) })?;
        Ok(Vision::from_out(p))
    }
    pub fn load(path: impl AsRef<Path>) -> Result<Vision> {
        let path = cpath(path.as_ref())?;
        let mut p = std::ptr::null_mut();
        // SAFETY: C string and out pointer.
        check(unsafe { sys::frz_vision_load(path.as_ptr(), &mut p) })?;
        Ok(Vision::from_out(p))
    }
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = cpath(path.as_ref())?;
        // SAFETY: a live handle and a C string.
        check(unsafe { sys::frz_vision_save(self.as_ptr(), path.as_ptr()) })
    }
    pub fn get(&self, prop: VisionProp) -> i64 {
        // SAFETY: a live handle.
        unsafe { sys::frz_vision_get(self.as_ptr(), prop as i32) }
    }
    pub fn n_features(&self) -> usize {
        self.get(VisionProp::NFeatures) as usize
    }
    pub fn image_size(&self) -> usize {
        self.get(VisionProp::ImageSize) as usize
    }
    /// The pooled vector (n_features floats), computed with n_threads threads.
    pub fn encode(&self, img: &Image, n_threads: i32) -> Result<Vec<f32>> {
        fill(self.n_features(), |out, cap, need| unsafe {
            sys::frz_vision_encode(self.as_ptr(), img.as_ptr(), n_threads, out, cap, need)
        })
    }
}

/// A property of a projector (`frz_projector_prop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum ProjectorProp {
    NFeatures = sys::FRZ_PROJECTOR_N_FEATURES,
    NPrefix = sys::FRZ_PROJECTOR_N_PREFIX,
    NEmbd = sys::FRZ_PROJECTOR_N_EMBD,
    NParams = sys::FRZ_PROJECTOR_N_PARAMS,
}

/// The linear map from a pooled vector to n_prefix embeddings of the LM's width.
pub struct Projector {
    ptr: NonNull<sys::frz_projector>,
}
owned_handle!(Projector, sys::frz_projector, sys::frz_projector_free);

impl Projector {
    pub fn create(n_features: i32, n_prefix: i32, n_embd: i32, seed: u64) -> Result<Projector> {
        let mut p = std::ptr::null_mut();
        // SAFETY: an out pointer.
        check(unsafe { sys::frz_projector_create(n_features, n_prefix, n_embd, seed, &mut p) })?;
        Ok(Projector::from_out(p))
    }
    pub fn load(path: impl AsRef<Path>) -> Result<Projector> {
        let path = cpath(path.as_ref())?;
        let mut p = std::ptr::null_mut();
        // SAFETY: C string and out pointer.
        check(unsafe { sys::frz_projector_load(path.as_ptr(), &mut p) })?;
        Ok(Projector::from_out(p))
    }
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = cpath(path.as_ref())?;
        // SAFETY: a live handle and a C string.
        check(unsafe { sys::frz_projector_save(self.as_ptr(), path.as_ptr()) })
    }
    pub fn get(&self, prop: ProjectorProp) -> i64 {
        // SAFETY: a live handle.
        unsafe { sys::frz_projector_get(self.as_ptr(), prop as i32) }
    }
    pub fn n_features(&self) -> usize {
        self.get(ProjectorProp::NFeatures) as usize
    }
    pub fn n_prefix(&self) -> usize {
        self.get(ProjectorProp::NPrefix) as usize
    }
    pub fn n_embd(&self) -> usize {
        self.get(ProjectorProp::NEmbd) as usize
    }
    /// n_prefix * n_embd floats from a pooled vector of n_features floats.
    pub fn apply(&self, pooled: &[f32]) -> Result<Vec<f32>> {
        if pooled.len() != self.n_features() {
            return Err(Error::new(
                Status::Shape,
                format!("{} floats given, the projector reads {}", pooled.len(), self.n_features()),
            ));
        }
        fill(self.n_prefix() * self.n_embd(), |out, cap, need| unsafe {
            sys::frz_projector_apply(self.as_ptr(), pooled.as_ptr(), out, cap, need)
        })
    }
}

/// Encoder, then projector: the image's n_prefix * n_embd floats, ready to enter an eval as embeddings.
pub fn image_prefix(v: &Vision, p: &Projector, img: &Image, n_threads: i32) -> Result<Vec<f32>> {
    fill(p.n_prefix() * p.n_embd(), |out, cap, need| unsafe {
        sys::frz_image_prefix(v.as_ptr(), p.as_ptr(), img.as_ptr(), n_threads, out, cap, need)
    })
}
