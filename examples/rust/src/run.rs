//! The callbacks of a long run (`frz_train_*`, `frz_pretrain_*`): a progress closure and an abort closure the
//! library calls through two C trampolines, with a panic in either carried out of C (`PanicSlot`). One generic
//! piece for every run whose progress struct starts with its `struct_size` (the header's convention).

use crate::error::{PanicSlot, Result};
use crate::sys;
use std::os::raw::{c_int, c_void};
use std::ptr::NonNull;

type ProgressFn<'m, P> = Box<dyn FnMut(&P) + Send + 'm>;
type AbortFn<'m> = Box<dyn FnMut() -> bool + Send + 'm>;

struct Callbacks<'m, P> {
    progress: Option<ProgressFn<'m, P>>,
    abort: Option<AbortFn<'m>>,
    panic: PanicSlot,
}

unsafe extern "C" fn progress_trampoline<P: Copy + Default>(p: *const P, user: *mut c_void) {
    // SAFETY: user is the run's Callbacks; p the library's progress, whose first member is its struct_size.
    let cb = unsafe { &mut *user.cast::<Callbacks<'_, P>>() };
    let Callbacks { progress, panic, .. } = cb;
    if let Some(f) = progress {
        // The library's struct may be older (shorter) than ours: unknown members stay zero.
        let mut copy = P::default();
        let n = unsafe { *p.cast::<usize>() }.min(std::mem::size_of::<P>());
        unsafe { std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&mut copy as *mut P).cast::<u8>(), n) };
        panic.guard((), || f(&copy));
    }
}

unsafe extern "C" fn abort_trampoline<P>(user: *mut c_void) -> c_int {
    // SAFETY: user is the run's Callbacks.
    let cb = unsafe { &mut *user.cast::<Callbacks<'_, P>>() };
    let Callbacks { abort, panic, .. } = cb;
    // A panic in the progress callback stops the run at the next poll (guard answers 1 once one is stored).
    panic.guard(1, || abort.as_mut().map_or(0, |f| f() as c_int))
}

/// The callbacks of one run, at a fixed address the C state points to. Drop it after the C state: as a field of
/// the run's handle it is, since fields drop after the handle's own `Drop`.
pub(crate) struct RunCallbacks<'m, P: Copy + Default> {
    cb: NonNull<Callbacks<'m, P>>,
}

// SAFETY: the closures are Send, and the C state calls them only on the thread running the run.
unsafe impl<P: Copy + Default> Send for RunCallbacks<'_, P> {}

impl<'m, P: Copy + Default> RunCallbacks<'m, P> {
    pub(crate) fn new() -> Self {
        let cb = Box::new(Callbacks::<'m, P> { progress: None, abort: None, panic: PanicSlot::default() });
        RunCallbacks { cb: NonNull::from(Box::leak(cb)) }
    }
    /// The progress trampoline and its data, for the params' `progress` / `progress_data`.
    pub(crate) fn progress_fn(&self) -> (Option<unsafe extern "C" fn(*const P, *mut c_void)>, *mut c_void) {
        (Some(progress_trampoline::<P>), self.cb.as_ptr().cast())
    }
    /// The abort trampoline and its data, for the params' `abort` / `abort_data`.
    pub(crate) fn abort_fn(&self) -> (Option<sys::frz_abort_fn>, *mut c_void) {
        (Some(abort_trampoline::<P>), self.cb.as_ptr().cast())
    }
    /// Only while no C call runs (the caller holds its run by &mut).
    pub(crate) fn set_progress(&mut self, f: impl FnMut(&P) + Send + 'm) {
        // SAFETY: no C call is running (&mut self).
        unsafe { self.cb.as_mut() }.progress = Some(Box::new(f));
    }
    pub(crate) fn set_abort(&mut self, f: impl FnMut() -> bool + Send + 'm) {
        // SAFETY: no C call is running (&mut self).
        unsafe { self.cb.as_mut() }.abort = Some(Box::new(f));
    }
    /// After the run's C call returned with `code`: resumes a panic a callback caught, else checks the status.
    pub(crate) fn finish(&mut self, code: c_int) -> Result<()> {
        // SAFETY: the call has returned.
        unsafe { self.cb.as_mut() }.panic.finish(code)
    }
}

impl<P: Copy + Default> Drop for RunCallbacks<'_, P> {
    fn drop(&mut self) {
        // SAFETY: owned, and the C state that pointed to it is gone (see the type's comment).
        drop(unsafe { Box::from_raw(self.cb.as_ptr()) });
    }
}
