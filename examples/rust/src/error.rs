//! Errors (status + the library's detailed message) and the helpers every wrapper call goes through.

use crate::sys;
use std::any::Any;
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::raw::c_int;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;

/// A status code of `frozen.h` other than `FRZ_OK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// A file could not be opened, read, mapped or written.
    Io,
    /// Malformed content: JSON, safetensors header, offsets, merges, ...
    Format,
    /// Well-formed but not supported: dtype, architecture, activation.
    Unsupported,
    /// A tensor or argument has the wrong shape.
    Shape,
    /// A bad argument: NULL handle, out-of-range id or option value.
    InvalidArg,
    /// An allocation failed.
    NoMem,
    /// The abort callback asked to stop.
    Cancelled,
    /// The caller's buffer is short (the wrappers size buffers themselves, so rarely seen).
    BufferTooSmall,
    /// A sequence would exceed the model's context length.
    ContextFull,
    /// A code this crate does not know (a newer library).
    Other(i32),
}

impl Status {
    pub fn from_raw(code: sys::frz_status) -> Option<Status> {
        Some(match code {
            sys::FRZ_OK => return None,
            sys::FRZ_ERR_IO => Status::Io,
            sys::FRZ_ERR_FORMAT => Status::Format,
            sys::FRZ_ERR_UNSUPPORTED => Status::Unsupported,
            sys::FRZ_ERR_SHAPE => Status::Shape,
            sys::FRZ_ERR_INVALID_ARG => Status::InvalidArg,
            sys::FRZ_ERR_NOMEM => Status::NoMem,
            sys::FRZ_ERR_CANCELLED => Status::Cancelled,
            sys::FRZ_ERR_BUFFER_TOO_SMALL => Status::BufferTooSmall,
            sys::FRZ_ERR_CONTEXT_FULL => Status::ContextFull,
            other => Status::Other(other),
        })
    }

    pub fn code(self) -> sys::frz_status {
        match self {
            Status::Io => sys::FRZ_ERR_IO,
            Status::Format => sys::FRZ_ERR_FORMAT,
            Status::Unsupported => sys::FRZ_ERR_UNSUPPORTED,
            Status::Shape => sys::FRZ_ERR_SHAPE,
            Status::InvalidArg => sys::FRZ_ERR_INVALID_ARG,
            Status::NoMem => sys::FRZ_ERR_NOMEM,
            Status::Cancelled => sys::FRZ_ERR_CANCELLED,
            Status::BufferTooSmall => sys::FRZ_ERR_BUFFER_TOO_SMALL,
            Status::ContextFull => sys::FRZ_ERR_CONTEXT_FULL,
            Status::Other(c) => c,
        }
    }

    /// The library's static text for the code (`frz_strerror`).
    pub fn text(self) -> String {
        // SAFETY: frz_strerror never returns NULL and its text is static.
        unsafe { CStr::from_ptr(sys::frz_strerror(self.code())) }.to_string_lossy().into_owned()
    }
}

/// A failed call: its status and the detailed message (`frz_last_error()`, captured when it failed), which names
/// the file, tensor, JSON field or argument at fault. Displays as `"<frz_strerror>: <message>"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    status: Status,
    message: String,
}

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error { status, message: message.into() }
    }
    pub fn status(&self) -> Status {
        self.status
    }
    /// The detailed message alone (may be empty).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.status.text())
        } else {
            write!(f, "{}: {}", self.status.text(), self.message)
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// The calling thread's last error message (`frz_last_error`).
pub fn last_error() -> String {
    // SAFETY: never NULL; valid until this thread's next failing call, and copied at once.
    unsafe { CStr::from_ptr(sys::frz_last_error()) }.to_string_lossy().into_owned()
}

/// Ok for FRZ_OK, else the error with the thread's message.
pub(crate) fn check(code: sys::frz_status) -> Result<()> {
    match Status::from_raw(code) {
        None => Ok(()),
        Some(status) => Err(Error::new(status, last_error())),
    }
}

pub(crate) fn invalid(message: String) -> Error {
    Error::new(Status::InvalidArg, message)
}

pub(crate) fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| invalid(format!("{what} contains a NUL byte: {s:?}")))
}

pub(crate) fn cpath(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| invalid(format!("path contains a NUL byte: {p:?}")))
}

/// Runs a buffer-protocol call (buffer, capacity, *needed): with `guess` elements, then again with what the
/// library asked for when that was short.
pub(crate) fn fill<T: Copy + Default>(
    guess: usize,
    mut call: impl FnMut(*mut T, usize, &mut usize) -> sys::frz_status,
) -> Result<Vec<T>> {
    let mut buf = vec![T::default(); guess.max(1)];
    let mut need = 0usize;
    let mut st = call(buf.as_mut_ptr(), buf.len(), &mut need);
    if st == sys::FRZ_ERR_BUFFER_TOO_SMALL && need > buf.len() {
        buf.resize(need, T::default());
        st = call(buf.as_mut_ptr(), buf.len(), &mut need);
    }
    check(st)?;
    buf.truncate(need);
    Ok(buf)
}

/// The same for NUL-terminated text: the capacity includes the NUL, *needed does not.
pub(crate) fn fill_bytes(
    guess: usize,
    mut call: impl FnMut(*mut std::os::raw::c_char, usize, &mut usize) -> sys::frz_status,
) -> Result<Vec<u8>> {
    let mut buf = fill::<u8>(guess + 1, |p, cap, need| {
        let st = call(p.cast(), cap, need);
        if st == sys::FRZ_OK || st == sys::FRZ_ERR_BUFFER_TOO_SMALL {
            *need += 1; // room for the NUL
        }
        st
    })?;
    buf.pop();
    Ok(buf)
}

/// A parameter struct with the library's defaults, sized as this crate compiled it. The `*_init` functions write
/// the struct as the *library* was compiled, which is larger than ours when the library is newer, so they write
/// into a roomy zeroed buffer and we keep our part; `struct_size` then tells the library which members we know.
///
/// # Safety
/// `T` must be a `#[repr(C)]` parameter struct of `sys` whose first member is `struct_size: usize`, and `init` its
/// `*_init` function.
pub(crate) unsafe fn params_init<T: Copy>(init: unsafe extern "C" fn(*mut T)) -> T {
    #[repr(C, align(16))]
    struct Room([u8; 4096]);
    assert!(std::mem::size_of::<T>() + 1024 <= std::mem::size_of::<Room>() && std::mem::align_of::<T>() <= 16);
    let mut room = Room([0; 4096]);
    init(room.0.as_mut_ptr().cast());
    let mut out: T = std::ptr::read(room.0.as_ptr().cast());
    std::ptr::write((&mut out as *mut T).cast::<usize>(), std::mem::size_of::<T>());
    out
}

/// A parameter struct with the library's defaults through its `*_init_size` function, given this crate's size of
/// the struct: the library fills only the members that fit and sets `struct_size`; the rest stays zero.
///
/// # Safety
/// `T` must be a `#[repr(C)]` parameter struct of `sys` whose first member is `struct_size: usize`, valid when
/// zeroed (integers, floats, nullable pointers, `Option` of function pointers), and `init` its `*_init_size`.
pub(crate) unsafe fn params_init_size<T: Copy>(init: unsafe extern "C" fn(*mut T, usize)) -> T {
    let mut out = std::mem::MaybeUninit::<T>::zeroed();
    init(out.as_mut_ptr(), std::mem::size_of::<T>());
    let mut out = out.assume_init();
    std::ptr::write((&mut out as *mut T).cast::<usize>(), std::mem::size_of::<T>());
    out
}

/// Carries a panic out of a C callback: the trampoline catches it, stores it and asks the library to stop; the
/// wrapper resumes it once the C call has returned (unwinding through C would abort the process).
#[derive(Default)]
pub(crate) struct PanicSlot(Option<Box<dyn Any + Send + 'static>>);

impl PanicSlot {
    /// Runs f; on a panic stores it and returns `stop`.
    pub(crate) fn guard<R>(&mut self, stop: R, f: impl FnOnce() -> R) -> R {
        if self.0.is_some() {
            return stop;
        }
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => r,
            Err(payload) => {
                self.0 = Some(payload);
                stop
            }
        }
    }
    /// Resumes a stored panic (it wins over the status it caused), else checks the status.
    pub(crate) fn finish(&mut self, code: c_int) -> Result<()> {
        if let Some(payload) = self.0.take() {
            resume_unwind(payload);
        }
        check(code)
    }
}
