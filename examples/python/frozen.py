"""frozen -- Python bindings for libfrozen (include/frozen.h) through ctypes.

Nothing is compiled at install: the module is one file that loads the shared library at import. It is found
through, in order, the FROZEN_LIBRARY environment variable (a path), the repository's lib/libfrozen.so.0
beside this file (examples/python/../../lib), and ctypes.util.find_library("frozen") (an installed copy).

    import frozen
    with frozen.LM("tests/fixtures/models/gpt2-f32") as lm, lm.session(threads=2) as s:
        print(s.complete("Hello, my dog", max_tokens=20))

Errors raise FrozenError(status, message): .status (a Status), .strerror (frz_strerror's static text) and
.message (frz_last_error(): the file, tensor, field or offset at fault). Each status has a subclass
(IOFailure, FormatError, ..., ContextFullError), some of which are also the matching built-in exception
(InvalidArgumentError is a ValueError, NoMemoryError a MemoryError).

Handles (LM, Session, Image, Vision, Projector, Prompt, Trainer, Pretrainer) free their C object on close(), at
the end of a `with` block, or when garbage-collected. A handle keeps the handles it depends on alive (a session
its model, a prompt its model, encoder and projector, a trainer or pretrainer its model), and closing a handle first closes those that depend on it, so a
freed C object is never used: using a closed handle raises ValueError.

Threads (as in frozen.h). ctypes releases the GIL during every library call, so threads run in parallel:
- an LM, a Vision, a Projector and an Image are read-only once made: any number of threads may use one;
- a Session, a Prompt (while being built) and a Trainer are used by one thread at a time: one per thread;
- the log callback is process-wide and may be called from any thread, the library's worker threads included;
- frz_last_error() is per thread, so each FrozenError carries the message of the call that raised it.
Closing a handle while another thread is inside a call on it is the caller's error, as in C.

Python callbacks (abort, on_token, training progress, log) may raise: the library is asked to stop at its next
poll (abort and on_token; a raising progress callback stops training cleanly, checkpoint written), and the
exception is re-raised once the C call has returned. Ctrl-C (KeyboardInterrupt) inside a callback does the same.
Every callback object handed to C is kept alive for as long as C may call it.

Adding a library function is one line in _PROTOS (name, return type, argument types); a struct parameter is a
ctypes.Structure whose fields mirror the header in order (test_frozen.py compares them with the C compiler's
sizeof and offsetof when a compiler is present).
"""

import array
import ctypes
import ctypes.util
import enum
import logging
import os
import sys
import types
from collections import namedtuple
from ctypes import (CFUNCTYPE, POINTER, Structure, byref, c_char, c_char_p, c_double, c_float, c_int, c_int32,
                    c_int64, c_size_t, c_uint, c_uint8, c_uint64, c_void_p)

__all__ = [
    "ABI_MAJOR", "FrozenError", "IOFailure", "FormatError", "UnsupportedError", "ShapeError",
    "InvalidArgumentError", "NoMemoryError", "CancelledError", "BufferTooSmallError", "ContextFullError",
    "Status", "LogLevel", "LogitsMode", "SegmentKind", "TOKEN_EMBEDDING",
    "LM", "Session", "Image", "Vision", "Projector", "Prompt", "Trainer", "Pretrainer", "Score", "Segment",
    "image_prefix", "train", "tokenizer_train", "pretrain", "set_log_callback", "log_to_logging", "version",
    "version_number",
    "blas_corename", "blas_advice", "strerror", "library_path", "lib", "TRAIN_PARAMS",
    "TOKENIZER_TRAIN_PARAMS", "LM_CONFIG", "PRETRAIN_PARAMS",
]

ABI_MAJOR = 0  # the soname's major (libfrozen.so.0) this module mirrors

# ---- constants and enums (values as in frozen.h; never renumbered there) ----------------------------------------


class Status(enum.IntEnum):
    OK = 0
    IO = 1
    FORMAT = 2
    UNSUPPORTED = 3
    SHAPE = 4
    INVALID_ARG = 5
    NOMEM = 6
    CANCELLED = 7
    BUFFER_TOO_SMALL = 8
    CONTEXT_FULL = 9


class LogLevel(enum.IntEnum):
    ERROR = 0
    WARN = 1
    INFO = 2
    DEBUG = 3


class LmProp(enum.IntEnum):
    N_LAYER = 0
    N_HEAD = 1
    N_EMBD = 2
    N_VOCAB = 3
    N_CTX = 4
    EOT_TOKEN = 5
    N_PARAMS = 6


class SessionOpt(enum.IntEnum):
    THREADS = 0
    SEED = 1
    MAX_SEQS = 2


class LogitsMode(enum.IntEnum):
    LAST = 0
    ALL = 1
    NONE = 2


class VisionProp(enum.IntEnum):
    N_FEATURES = 0
    IMAGE_SIZE = 1
    N_PARAMS = 2


class ProjectorProp(enum.IntEnum):
    N_FEATURES = 0
    N_PREFIX = 1
    N_EMBD = 2
    N_PARAMS = 3


class PromptOpt(enum.IntEnum):
    THREADS = 0
    BLIND = 1


class SegmentKind(enum.IntEnum):
    TEXT = 0
    IMAGE = 1
    EMBEDDING = 2


TOKENIZE_SPECIAL = 1
TOKEN_EMBEDDING = -1
PROMPT_STOP_NEWLINE = 1

# The C name of each enum member is prefix + member name (the tests check every value against the header).
C_ENUM_PREFIX = {
    Status: "FRZ_ERR_", LogLevel: "FRZ_LOG_", LmProp: "FRZ_LM_", SessionOpt: "FRZ_OPT_",
    LogitsMode: "FRZ_LOGITS_", VisionProp: "FRZ_VISION_", ProjectorProp: "FRZ_PROJECTOR_",
    PromptOpt: "FRZ_PROMPT_OPT_", SegmentKind: "FRZ_PROMPT_SEG_",
}
C_CONSTANTS = {"FRZ_TOKENIZE_SPECIAL": TOKENIZE_SPECIAL, "FRZ_TOKEN_EMBEDDING": TOKEN_EMBEDDING,
               "FRZ_PROMPT_STOP_NEWLINE": PROMPT_STOP_NEWLINE}


def c_enum_name(member):
    """The C name of an enum member: Status.OK -> FRZ_OK, Status.IO -> FRZ_ERR_IO, LmProp.N_CTX -> FRZ_LM_N_CTX."""
    if member is Status.OK:
        return "FRZ_OK"
    return C_ENUM_PREFIX[type(member)] + member.name


# ---- errors ----------------------------------------------------------------------------------------------------


class FrozenError(Exception):
    """A libfrozen call failed: .status (Status), .strerror (static text), .message (frz_last_error())."""

    def __init__(self, status, message=""):
        try:
            status = Status(status)
        except ValueError:
            status = int(status)
        self.status = status
        self.message = message
        self.strerror = strerror(status) if _lib is not None else str(status)
        super().__init__(status, message)

    def __str__(self):
        return "%s: %s" % (self.strerror, self.message) if self.message else self.strerror


class IOFailure(FrozenError):
    """FRZ_ERR_IO: a file could not be opened, read, mapped or written."""


class FormatError(FrozenError):
    """FRZ_ERR_FORMAT: malformed content."""


class UnsupportedError(FrozenError):
    """FRZ_ERR_UNSUPPORTED: well-formed but not supported."""


class ShapeError(FrozenError):
    """FRZ_ERR_SHAPE: a tensor or argument has the wrong shape."""


class InvalidArgumentError(FrozenError, ValueError):
    """FRZ_ERR_INVALID_ARG: a bad argument."""


class NoMemoryError(FrozenError, MemoryError):
    """FRZ_ERR_NOMEM: an allocation failed."""


class CancelledError(FrozenError):
    """FRZ_ERR_CANCELLED: an abort callback asked to stop. .tokens holds what generation had produced."""


class BufferTooSmallError(FrozenError):
    """FRZ_ERR_BUFFER_TOO_SMALL (the module retries with the needed size; seen only from the raw lib)."""


class ContextFullError(FrozenError):
    """FRZ_ERR_CONTEXT_FULL: a sequence would pass the model's context length."""


_ERRORS = {Status.IO: IOFailure, Status.FORMAT: FormatError, Status.UNSUPPORTED: UnsupportedError,
           Status.SHAPE: ShapeError, Status.INVALID_ARG: InvalidArgumentError, Status.NOMEM: NoMemoryError,
           Status.CANCELLED: CancelledError, Status.BUFFER_TOO_SMALL: BufferTooSmallError,
           Status.CONTEXT_FULL: ContextFullError}


def _error(code):
    message = _lib.frz_last_error().decode("utf-8", "replace")
    return _ERRORS.get(code, FrozenError)(code, message)


def _check(result, func, args):
    # errcheck of every frz_status function: runs on the calling thread, right after the call, so
    # frz_last_error() (thread-local) is that call's message.
    if result != 0:
        raise _error(result)
    return result


# ---- C types: opaque handles, callbacks, parameter structs -------------------------------------------------------


class _frz_lm(Structure):
    pass


class _frz_session(Structure):
    pass


class _frz_image(Structure):
    pass


class _frz_vision(Structure):
    pass


class _frz_projector(Structure):
    pass


class _frz_prompt(Structure):
    pass


class _frz_train(Structure):
    pass


class _frz_pretrain(Structure):
    pass


_LMP, _SP, _IP = POINTER(_frz_lm), POINTER(_frz_session), POINTER(_frz_image)
_VP, _PP, _PRP, _TP = POINTER(_frz_vision), POINTER(_frz_projector), POINTER(_frz_prompt), POINTER(_frz_train)
_PTP = POINTER(_frz_pretrain)

_LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)          # frz_log_fn
_ABORT_FN = CFUNCTYPE(c_int, c_void_p)                       # frz_abort_fn
_TOKEN_FN = CFUNCTYPE(c_int, c_int32, c_void_p)              # frz_token_fn


class frz_input(Structure):
    _fields_ = [("seq", c_int32), ("n", c_size_t), ("tokens", POINTER(c_int32)), ("embd", POINTER(c_float))]


class frz_generate_params(Structure):
    _fields_ = [("struct_size", c_size_t), ("max_tokens", c_int32), ("temperature", c_float), ("top_k", c_int32),
                ("top_p", c_float), ("stop_at_eot", c_int), ("stop", POINTER(c_char_p)), ("n_stop", c_size_t),
                ("on_token", _TOKEN_FN), ("on_token_data", c_void_p)]


class frz_train_progress(Structure):
    _fields_ = [("struct_size", c_size_t), ("step", c_int64), ("total_steps", c_int64),
                ("steps_per_epoch", c_int64), ("epoch", c_int32), ("loss", c_float), ("lr", c_float),
                ("images_per_s", c_double), ("val_ppl", c_double), ("best_val_ppl", c_double),
                ("skipped_images", c_int64), ("n_train", c_int64), ("n_val", c_int64), ("elapsed_s", c_double)]


_PROGRESS_FN = CFUNCTYPE(None, POINTER(frz_train_progress), c_void_p)  # frz_train_progress_fn


class frz_train_params(Structure):
    _fields_ = [("struct_size", c_size_t), ("vision_arch", c_char_p), ("vision_width", c_float),
                ("image_size", c_int32), ("prefix_tokens", c_int32), ("batch_size", c_int32),
                ("micro_batch", c_int32), ("lr", c_float), ("beta1", c_float), ("beta2", c_float),
                ("adam_eps", c_float), ("weight_decay", c_float), ("grad_clip", c_float), ("epochs", c_int32),
                ("max_steps", c_int64), ("val_fraction", c_float), ("val_every", c_int32), ("patience", c_int32),
                ("max_caption_tokens", c_int32), ("checkpoint_every", c_int32), ("blind", c_int),
                ("resume", c_int), ("seed", c_uint64), ("n_threads", c_int32), ("image_dir", c_char_p),
                ("progress", _PROGRESS_FN), ("progress_data", c_void_p), ("abort", _ABORT_FN),
                ("abort_data", c_void_p), ("lm_mode", c_int32), ("lm_lr", c_float),
                ("lr_decay", c_float)]


class frz_tokenizer_train_params(Structure):
    _fields_ = [("struct_size", c_size_t), ("vocab_size", c_int32), ("min_frequency", c_int32),
                ("n_threads", c_int32), ("tab_segments", c_int), ("abort", _ABORT_FN), ("abort_data", c_void_p)]


class frz_tokenizer_train_stats(Structure):
    _fields_ = [("struct_size", c_size_t), ("n_bytes", c_int64), ("n_words", c_int64), ("n_unique_words", c_int64),
                ("n_merges", c_int32), ("n_vocab", c_int32), ("last_count", c_int64), ("count_s", c_double),
                ("merge_s", c_double)]


class frz_lm_config(Structure):
    _fields_ = [("struct_size", c_size_t), ("n_layer", c_int32), ("n_head", c_int32), ("n_embd", c_int32),
                ("n_ctx", c_int32), ("n_inner", c_int32), ("reserved0", c_int32),
                ("untied_head", c_int32)]


class frz_pretrain_progress(Structure):
    _fields_ = [("struct_size", c_size_t), ("step", c_int64), ("total_steps", c_int64), ("epoch", c_int32),
                ("loss", c_float), ("lr", c_float), ("tokens_per_s", c_double), ("val_loss", c_double),
                ("n_train", c_int64), ("n_val", c_int64), ("n_truncated", c_int64), ("n_tokens", c_int64),
                ("elapsed_s", c_double)]


_PRETRAIN_PROGRESS_FN = CFUNCTYPE(None, POINTER(frz_pretrain_progress), c_void_p)  # frz_pretrain_progress_fn


class frz_pretrain_params(Structure):
    _fields_ = [("struct_size", c_size_t), ("steps", c_int64), ("batch_size", c_int32), ("context", c_int32),
                ("lr", c_float), ("warmup", c_int32), ("min_lr_ratio", c_float), ("beta1", c_float),
                ("beta2", c_float), ("adam_eps", c_float), ("weight_decay", c_float), ("grad_clip", c_float),
                ("val_fraction", c_float), ("val_every", c_int32), ("checkpoint_every", c_int32),
                ("tab_segments", c_int), ("no_shuffle", c_int), ("seed", c_uint64), ("n_threads", c_int32),
                ("progress", _PRETRAIN_PROGRESS_FN), ("progress_data", c_void_p), ("abort", _ABORT_FN),
                ("abort_data", c_void_p), ("resume", c_int)]


# Every struct shared with C, by its C name (the layout test walks this).
C_STRUCTS = {"frz_input": frz_input, "frz_generate_params": frz_generate_params,
             "frz_train_progress": frz_train_progress, "frz_train_params": frz_train_params,
             "frz_tokenizer_train_params": frz_tokenizer_train_params,
             "frz_tokenizer_train_stats": frz_tokenizer_train_stats, "frz_lm_config": frz_lm_config,
             "frz_pretrain_progress": frz_pretrain_progress, "frz_pretrain_params": frz_pretrain_params}

# ---- the function table: one line per library function ---------------------------------------------------------

_S = object()  # return type marker: frz_status, checked (raises FrozenError on failure)
_szp = POINTER(c_size_t)

_PROTOS = [
    ("frz_version_number", c_uint, []),
    ("frz_version_string", c_char_p, []),
    ("frz_version_check", _S, [c_uint]),
    ("frz_strerror", c_char_p, [c_int]),
    ("frz_last_error", c_char_p, []),
    ("frz_set_log_callback", None, [_LOG_FN, c_void_p, c_int]),
    ("frz_blas_corename", c_char_p, []),
    ("frz_blas_advice", c_char_p, []),
    # the language model and its tokenizer
    ("frz_lm_load", _S, [c_char_p, POINTER(_LMP)]),
    ("frz_lm_free", None, [_LMP]),
    ("frz_lm_get", c_int64, [_LMP, c_int]),
    ("frz_tokenize", _S, [_LMP, c_char_p, c_size_t, c_uint, POINTER(c_int32), c_size_t, _szp]),
    ("frz_detokenize", _S, [_LMP, POINTER(c_int32), c_size_t, POINTER(c_char), c_size_t, _szp]),
    # sessions, generation, scoring
    ("frz_session_create", _S, [_LMP, POINTER(_SP)]),
    ("frz_session_free", None, [_SP]),
    ("frz_session_set_int", _S, [_SP, c_int, c_int64]),
    ("frz_session_set_abort", None, [_SP, _ABORT_FN, c_void_p]),
    ("frz_session_eval", _S, [_SP, POINTER(frz_input), c_size_t, c_int]),
    ("frz_session_logits", POINTER(c_float), [_SP, c_size_t]),
    ("frz_session_seq_len", c_int64, [_SP, c_int32]),
    ("frz_session_seq_truncate", _S, [_SP, c_int32, c_size_t]),
    ("frz_session_seq_copy", _S, [_SP, c_int32, c_int32]),
    ("frz_generate_params_init", None, [POINTER(frz_generate_params)]),
    ("frz_generate_params_init_size", None, [POINTER(frz_generate_params), c_size_t]),
    ("frz_generate", _S, [_SP, c_int32, POINTER(frz_generate_params), POINTER(c_int32), c_size_t, _szp]),
    ("frz_score", _S, [_SP, c_int32, POINTER(c_int32), c_size_t, POINTER(c_float), POINTER(c_double)]),
    # images
    ("frz_image_load_file", _S, [c_char_p, POINTER(_IP)]),
    ("frz_image_load_memory", _S, [c_char_p, c_size_t, c_char_p, POINTER(_IP)]),
    ("frz_image_from_rgb8", _S, [c_char_p, c_int32, c_int32, c_size_t, POINTER(_IP)]),
    ("frz_image_free", None, [_IP]),
    ("frz_image_width", c_int32, [_IP]),
    ("frz_image_height", c_int32, [_IP]),
    ("frz_image_pixels", POINTER(c_uint8), [_IP]),
    # the vision encoder, the projector, the visual prefix, captioning
    ("frz_vision_create", _S, [c_char_p, c_float, c_int32, c_uint64, POINTER(_VP)]),
    ("frz_vision_load", _S, [c_char_p, POINTER(_VP)]),
    ("frz_vision_save", _S, [_VP, c_char_p]),
    ("frz_vision_free", None, [_VP]),
    ("frz_vision_get", c_int64, [_VP, c_int]),
    ("frz_vision_encode", _S, [_VP, _IP, c_int32, POINTER(c_float), c_size_t, _szp]),
    ("frz_projector_create", _S, [c_int32, c_int32, c_int32, c_uint64, POINTER(_PP)]),
    ("frz_projector_load", _S, [c_char_p, POINTER(_PP)]),
    ("frz_projector_save", _S, [_PP, c_char_p]),
    ("frz_projector_free", None, [_PP]),
    ("frz_projector_get", c_int64, [_PP, c_int]),
    ("frz_projector_apply", _S, [_PP, POINTER(c_float), POINTER(c_float), c_size_t, _szp]),
    ("frz_image_prefix", _S, [_VP, _PP, _IP, c_int32, POINTER(c_float), c_size_t, _szp]),
    ("frz_caption", _S, [_SP, c_int32, _VP, _PP, _IP, c_int32, POINTER(c_char), c_size_t, _szp]),
    # training
    ("frz_train_params_init", None, [POINTER(frz_train_params)]),
    ("frz_train_params_init_size", None, [POINTER(frz_train_params), c_size_t]),
    ("frz_train_create", _S, [_LMP, c_char_p, c_char_p, POINTER(frz_train_params), POINTER(_TP)]),
    ("frz_train_run", _S, [_TP]),
    ("frz_train_get_progress", _S, [_TP, POINTER(frz_train_progress)]),
    ("frz_train_free", None, [_TP]),
    # prompts
    ("frz_prompt_create", _S, [_LMP, _VP, _PP, POINTER(_PRP)]),
    ("frz_prompt_free", None, [_PRP]),
    ("frz_prompt_clear", None, [_PRP]),
    ("frz_prompt_set_int", _S, [_PRP, c_int, c_int64]),
    ("frz_prompt_add_text", _S, [_PRP, c_char_p, c_size_t, c_uint]),
    ("frz_prompt_add_image", _S, [_PRP, _IP]),
    ("frz_prompt_add_image_with", _S, [_PRP, _IP, _VP, _PP]),
    ("frz_prompt_add_image_file", _S, [_PRP, c_char_p]),
    ("frz_prompt_add_image_memory", _S, [_PRP, c_char_p, c_size_t, c_char_p]),
    ("frz_prompt_add_image_rgb8", _S, [_PRP, c_char_p, c_int32, c_int32, c_size_t]),
    ("frz_prompt_add_embeddings", _S, [_PRP, POINTER(c_float), c_size_t]),
    ("frz_prompt_len", c_size_t, [_PRP]),
    ("frz_prompt_tokens", _S, [_PRP, POINTER(c_int32), c_size_t, _szp]),
    ("frz_prompt_embedding", POINTER(c_float), [_PRP, c_size_t]),
    ("frz_prompt_n_segments", c_size_t, [_PRP]),
    ("frz_prompt_segment", _S, [_PRP, c_size_t, POINTER(c_int), _szp, _szp]),
    ("frz_prompt_eval", _S, [_SP, c_int32, _PRP, c_int]),
    ("frz_prompt_eval_range", _S, [_SP, c_int32, _PRP, c_size_t, c_size_t, c_int]),
    ("frz_prompt_generate", _S, [_SP, c_int32, _PRP, POINTER(frz_generate_params), c_uint, POINTER(c_int32),
                                 c_size_t, _szp]),
    ("frz_prompt_score", _S, [_SP, c_int32, _PRP, POINTER(c_char_p), c_size_t, POINTER(c_double)]),
    # training a tokenizer
    ("frz_tokenizer_train_params_init", None, [POINTER(frz_tokenizer_train_params)]),
    ("frz_tokenizer_train_params_init_size", None, [POINTER(frz_tokenizer_train_params), c_size_t]),
    ("frz_tokenizer_train", _S, [c_char_p, c_char_p, POINTER(frz_tokenizer_train_params),
                                 POINTER(frz_tokenizer_train_stats)]),
    # random language models, saving them, pretraining
    ("frz_lm_config_init", None, [POINTER(frz_lm_config)]),
    ("frz_lm_config_init_size", None, [POINTER(frz_lm_config), c_size_t]),
    ("frz_lm_create_random", _S, [POINTER(frz_lm_config), c_char_p, c_uint64, POINTER(_LMP)]),
    ("frz_lm_save", _S, [_LMP, c_char_p]),
    ("frz_pretrain_params_init", None, [POINTER(frz_pretrain_params)]),
    ("frz_pretrain_params_init_size", None, [POINTER(frz_pretrain_params), c_size_t]),
    ("frz_pretrain_create", _S, [_LMP, c_char_p, c_char_p, POINTER(frz_pretrain_params), POINTER(_PTP)]),
    ("frz_pretrain_run", _S, [_PTP]),
    ("frz_pretrain_get_progress", _S, [_PTP, POINTER(frz_pretrain_progress)]),
    ("frz_pretrain_free", None, [_PTP]),
]

# ---- loading the library ------------------------------------------------------------------------------------------


def _find_library():
    env = os.environ.get("FROZEN_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    repo_lib = os.path.normpath(os.path.join(here, os.pardir, os.pardir, "lib", "libfrozen.so.%d" % ABI_MAJOR))
    if os.path.exists(repo_lib):
        return repo_lib
    found = ctypes.util.find_library("frozen")
    if found:
        return found
    raise ImportError("libfrozen not found: set FROZEN_LIBRARY to the path of libfrozen.so.%d, run `make` in the "
                      "repository (for lib/libfrozen.so.%d), or install the library" % (ABI_MAJOR, ABI_MAJOR))


class _Missing:
    """Stands for a function the loaded library lacks (an older build): calling it says so."""

    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        raise NotImplementedError("%s is not in the loaded libfrozen (%s)" % (self.name, library_path))


def _bind(cdll):
    lib = types.SimpleNamespace()
    for name, restype, argtypes in _PROTOS:
        try:
            fn = getattr(cdll, name)
        except AttributeError:
            setattr(lib, name, _Missing(name))
            continue
        fn.argtypes = argtypes
        if restype is _S:
            fn.restype = c_int
            fn.errcheck = _check
        else:
            fn.restype = restype
        setattr(lib, name, fn)
    return lib


_lib = None
library_path = _find_library()
try:
    _lib = _bind(ctypes.CDLL(library_path))
except OSError as _e:
    raise ImportError("cannot load libfrozen from %s: %s" % (library_path, _e)) from None
lib = _lib  # the raw bound functions (status functions raise FrozenError), for what the classes do not cover
if _lib.frz_version_number() // 10000 != ABI_MAJOR:
    raise ImportError("%s is libfrozen %s; this module mirrors ABI major %d"
                      % (library_path, _lib.frz_version_string().decode(), ABI_MAJOR))

# ---- small helpers ------------------------------------------------------------------------------------------------


def version():
    """The linked library's version string, e.g. "0.1.0"."""
    return _lib.frz_version_string().decode()


def version_number():
    return _lib.frz_version_number()


def strerror(status):
    return _lib.frz_strerror(int(status)).decode()


def blas_corename():
    return _lib.frz_blas_corename().decode()


def blas_advice():
    """None when the BLAS kernel suits the CPU; otherwise advice naming the fix."""
    advice = _lib.frz_blas_advice()
    return advice.decode() if advice else None


def _path(p):
    """str, bytes or os.PathLike -> bytes for a const char * path."""
    return os.fsencode(os.fspath(p))


def _text(t):
    """str (UTF-8; surrogateescape gives back undecodable bytes) or a bytes-like object -> bytes."""
    if isinstance(t, str):
        return t.encode("utf-8", "surrogateescape")
    return bytes(t)


def _out(fn, *args, T):
    """Calls a create/load function whose last argument is T **out; returns the new pointer."""
    ptr = POINTER(T)()
    fn(*args, byref(ptr))
    return ptr


def _fill(call, ctype, cap, extra=0):
    """The buffer protocol: call(buf, cap, &needed); on FRZ_ERR_BUFFER_TOO_SMALL retries at needed + extra.
    Returns (buf, needed)."""
    needed = c_size_t(0)
    cap = max(int(cap), 1)
    while True:
        buf = (ctype * cap)()
        try:
            call(buf, cap, byref(needed))
            return buf, needed.value
        except BufferTooSmallError:
            if needed.value + extra <= cap:
                raise
            cap = needed.value + extra


def _floats_at(ptr, n):
    """n floats at a C pointer, copied into an array('f') (numpy.asarray takes it without a copy)."""
    a = array.array("f")
    a.frombytes(ctypes.string_at(ptr, 4 * n))
    return a


def _farray(buf, n):
    a = array.array("f")
    a.frombytes(memoryview(buf).cast("B")[:4 * n])
    return a


def _int32s(ids):
    """A sequence of ints (list, array, numpy array) -> (c_int32 * n)."""
    ids = list(ids)
    return (c_int32 * len(ids))(*[int(i) for i in ids])


def _flatten(x):
    for v in x:
        if isinstance(v, (list, tuple)) or (hasattr(v, "__len__") and not isinstance(v, (str, bytes))
                                             and hasattr(v, "__iter__")):
            yield from _flatten(v)
        else:
            yield float(v)


def _floats(x):
    """Floats from a float32 buffer (numpy float32 array, array('f')) without conversion, any numpy array by
    conversion, or (nested) sequences of numbers -> (c_float * n), copied."""
    try:
        mv = memoryview(x)
    except TypeError:
        mv = None
    if mv is not None and mv.format in ("f", "<f", "=f") and mv.c_contiguous:
        return (c_float * (mv.nbytes // 4)).from_buffer_copy(mv)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(x, np.ndarray):
        a = np.ascontiguousarray(x, dtype=np.float32)
        return (c_float * a.size).from_buffer_copy(a)
    flat = list(_flatten(x))
    return (c_float * len(flat))(*flat)


class _Sink:
    """Holds the first exception raised by a Python callback while C runs, to re-raise once C has returned."""

    def __init__(self):
        self.exc = None

    def guard(self, fn, on_error):
        def wrapper(*args):
            try:
                return fn(*args)
            except BaseException as e:  # KeyboardInterrupt too: stop C cleanly, then raise it
                if self.exc is None:
                    self.exc = e
                return on_error
        return wrapper

    def call(self, fn, *args):
        """fn(*args); a pending callback exception wins over the FrozenError (e.g. CANCELLED) it caused."""
        self.exc = None
        try:
            result = fn(*args)
        except FrozenError as err:
            exc, self.exc = self.exc, None
            if exc is not None:
                raise exc from err
            raise
        exc, self.exc = self.exc, None
        if exc is not None:
            raise exc
        return result


# ---- handles ------------------------------------------------------------------------------------------------------


class _Handle:
    """An owned C object. close() (idempotent) first closes the handles that depend on this one.

    The pointer lives in a cell, [ptr, free function name, {id: child cell}, [parent cells]], shared with the
    parents' cells rather than through the handle objects: the garbage collector clears weak references and runs
    finalizers in any order within a reference cycle, but a parent's cell still reaches its children's cells, so
    whichever handle is finalized first, children are freed before their parents and nothing is freed twice."""

    _free = None  # name of the frz_*_free function

    def _own(self, ptr, parents=()):
        self._parents = tuple(p for p in parents if p is not None)  # strong: they outlive this handle
        self._cell = [ptr, self._free, {}, [p._cell for p in self._parents]]
        for p in self._parents:
            p._cell[2][id(self._cell)] = self._cell

    @property
    def _p(self):
        cell = getattr(self, "_cell", None)
        if cell is None or cell[0] is None:
            raise ValueError("%s is closed" % type(self).__name__)
        return cell[0]

    @property
    def closed(self):
        cell = getattr(self, "_cell", None)
        return cell is None or cell[0] is None

    def close(self):
        cell = getattr(self, "_cell", None)
        if cell is not None:
            _close_cell(cell)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if _lib is not None:  # not during interpreter shutdown
            self.close()

    @classmethod
    def _wrap(cls, ptr, parents=()):
        obj = cls.__new__(cls)
        obj._own(ptr, parents)
        return obj


def _close_cell(cell):
    ptr, free, children, parents = cell
    if ptr is None:
        return
    for child in list(children.values()):
        _close_cell(child)
    cell[0] = None
    getattr(_lib, free)(ptr)
    for parent in parents:
        parent[2].pop(id(cell), None)


def _prop(get, key):
    return property(lambda self: get(self._p, int(key)), doc=key.name.lower())


class LM(_Handle):
    """A GPT-2 model folder (config.json, model.safetensors, vocab.json, merges.txt); read-only, thread-safe."""

    _free = "frz_lm_free"

    def __init__(self, path):
        self._own(_out(_lib.frz_lm_load, _path(path), T=_frz_lm))
        self.path = os.fspath(path)

    @classmethod
    def create_random(cls, tokenizer_dir, seed=0, **config):
        """A new GPT-2 with GPT-2's random initialisation (frz_lm_create_random) and the tokenizer of
        tokenizer_dir (vocab.json + merges.txt; n_vocab is its number of ids). config (LM_CONFIG): n_layer (4),
        n_head (4, must divide n_embd), n_embd (128), n_ctx (256), n_inner (0: 4 n_embd), untied_head
        (0: the LM head is wte; 1: its own). The same seed gives the same weights. save() writes it as a model
        folder; pretrain() trains it."""
        c = _params(frz_lm_config, _lib.frz_lm_config_init_size, config, LM_CONFIG, "LM.create_random")
        lm = cls._wrap(_out(_lib.frz_lm_create_random, byref(c), _path(tokenizer_dir), int(seed), T=_frz_lm))
        lm.path = None
        return lm

    def save(self, path):
        """Writes the model as a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json,
        merges.txt) that LM(path) loads back bit for bit (frz_lm_save; the folder is created if missing, not its
        parents)."""
        _lib.frz_lm_save(self._p, _path(path))

    n_layer = _prop(_lib.frz_lm_get, LmProp.N_LAYER)
    n_head = _prop(_lib.frz_lm_get, LmProp.N_HEAD)
    n_embd = _prop(_lib.frz_lm_get, LmProp.N_EMBD)
    n_vocab = _prop(_lib.frz_lm_get, LmProp.N_VOCAB)
    n_ctx = _prop(_lib.frz_lm_get, LmProp.N_CTX)
    eot_token = _prop(_lib.frz_lm_get, LmProp.EOT_TOKEN)
    n_params = _prop(_lib.frz_lm_get, LmProp.N_PARAMS)

    def get(self, prop):
        """A property by LmProp key (-1 for an unknown key)."""
        return _lib.frz_lm_get(self._p, int(prop))

    def tokenize(self, text, special=False):
        """Token ids (a list of int) of text (str or bytes). special: parse <|endoftext|> as a special token."""
        data = _text(text)
        flags = TOKENIZE_SPECIAL if special else 0
        buf, n = _fill(lambda b, cap, need: _lib.frz_tokenize(self._p, data, len(data), flags, b, cap, need),
                       c_int32, len(data) + 1)
        return buf[:n]

    def detokenize_bytes(self, ids):
        """The bytes of ids (UTF-8 unless the ids split a character)."""
        arr = _int32s(ids)
        buf, n = _fill(lambda b, cap, need: _lib.frz_detokenize(self._p, arr, len(arr), b, cap, need),
                       c_char, 16 * len(arr) + 1, extra=1)
        return buf.raw[:n]

    def detokenize(self, ids, errors="replace"):
        """The text of ids; errors as bytes.decode ("surrogateescape" round-trips any bytes through tokenize)."""
        return self.detokenize_bytes(ids).decode("utf-8", errors)

    def session(self, **options):
        """A new Session on this model (options as Session's)."""
        return Session(self, **options)

    def prompt(self, vision=None, projector=None, **options):
        return Prompt(self, vision, projector, **options)

    def __repr__(self):
        if self.closed:
            return "<frozen.LM closed>"
        return "<frozen.LM %r n_layer=%d n_embd=%d n_vocab=%d n_ctx=%d>" % (
            self.path, self.n_layer, self.n_embd, self.n_vocab, self.n_ctx)


Score = namedtuple("Score", "total token_logprobs")
Segment = namedtuple("Segment", "kind start n")


class _GenParams:
    """frz_generate_params built from keyword arguments, with what C points to kept alive for the call."""

    def __init__(self, sink, max_tokens=64, temperature=0.0, top_k=0, top_p=1.0, stop_at_eot=True, stop=(),
                 on_token=None):
        p = frz_generate_params()
        _lib.frz_generate_params_init_size(byref(p), ctypes.sizeof(p))
        p.max_tokens = int(max_tokens)
        p.temperature = float(temperature)
        p.top_k = int(top_k)
        p.top_p = float(top_p)
        p.stop_at_eot = 1 if stop_at_eot else 0
        if isinstance(stop, (str, bytes)):
            stop = [stop]
        self._stop = (c_char_p * max(len(stop), 1))(*[_text(s) for s in stop])
        p.stop = self._stop
        p.n_stop = len(stop)
        if on_token is not None:
            # on_token(id) -> truthy stops; an exception stops too and is re-raised afterwards
            self._cb = _TOKEN_FN(sink.guard(lambda tok, _data: 1 if on_token(tok) else 0, 1))
            p.on_token = self._cb
        self.params = p
        self.cap = max(int(max_tokens), 1)


_GEN_DOC = """max_tokens (64), temperature (0: greedy), top_k (0: off), top_p (1: off), stop_at_eot (True),
    stop (a string or a list of stop strings), on_token (called with each new id; truthy return stops)."""


class Session(_Handle):
    """Per-thread state on an LM: KV caches of up to max_seqs sequence slots, logits, RNG. One thread at a time."""

    _free = "frz_session_free"

    def __init__(self, lm, threads=None, seed=None, max_seqs=None):
        self._own(_out(_lib.frz_session_create, lm._p, T=_frz_session), parents=(lm,))
        self.lm = lm
        self._sink = _Sink()
        self._abort = None
        if max_seqs is not None:
            self.set_option(SessionOpt.MAX_SEQS, max_seqs)
        if threads is not None:
            self.set_option(SessionOpt.THREADS, threads)
        if seed is not None:
            self.set_option(SessionOpt.SEED, seed)

    def set_option(self, opt, value):
        _lib.frz_session_set_int(self._p, int(opt), int(value))

    def set_threads(self, n):
        self.set_option(SessionOpt.THREADS, n)

    def set_seed(self, seed):
        """Reseeds the sampling RNG."""
        self.set_option(SessionOpt.SEED, seed)

    def set_max_seqs(self, n):
        """Number of sequence slots; changing it clears all."""
        self.set_option(SessionOpt.MAX_SEQS, n)

    def set_abort(self, fn):
        """fn() -> truthy stops the running call (CancelledError); polled between layers and tokens. None: off."""
        if fn is None:
            self._abort = None
            _lib.frz_session_set_abort(self._p, _ABORT_FN(), None)
            return
        cb = _ABORT_FN(self._sink.guard(lambda _data: 1 if fn() else 0, 1))
        _lib.frz_session_set_abort(self._p, cb, None)
        self._abort = cb  # C holds it until replaced

    # ---- evaluation
    def eval(self, tokens=None, embd=None, seq=0, logits=LogitsMode.LAST):
        """Appends positions to slot seq and runs the LM. tokens: ids, TOKEN_EMBEDDING (-1) where the position
        takes its row of embd instead; embd: floats (n * n_embd; numpy float32 (n, n_embd) arrays welcome), or
        only embd (every position an embedding). logits: "last", "all", "none" (or LogitsMode). Returns the
        number of logits rows available through logits(row)."""
        return self.eval_batch([(seq, tokens, embd)], logits)

    def eval_batch(self, inputs, logits=LogitsMode.LAST):
        """Several slots in one batched pass: inputs is a list of (seq, tokens, embd). Rows: LAST one per input,
        ALL every new position in input order."""
        mode = _logits_mode(logits)
        d = self.lm.n_embd
        keep, structs, rows = [], [], 0
        for seq, tokens, embd in inputs:
            tok = _int32s(tokens) if tokens is not None else None
            emb = _floats(embd) if embd is not None else None
            if tok is None and emb is None:
                raise ValueError("eval: an input needs tokens or embd")
            n = len(tok) if tok is not None else len(emb) // d
            if emb is not None and len(emb) != n * d:
                raise ValueError("eval: embd holds %d floats; %d positions of width %d need %d"
                                 % (len(emb), n, d, n * d))
            if tok is not None and emb is None and any(t == TOKEN_EMBEDDING for t in tok):
                raise ValueError("eval: TOKEN_EMBEDDING positions need embd")
            keep += [tok, emb]
            structs.append(frz_input(int(seq), n, tok, emb))
            rows += 1 if mode == LogitsMode.LAST else n
        arr = (frz_input * max(len(structs), 1))(*structs)
        self._sink.call(_lib.frz_session_eval, self._p, arr, len(structs), int(mode))
        return 0 if mode == LogitsMode.NONE else rows

    def logits(self, row=0):
        """Row `row` of the latest eval's logits: n_vocab floats in an array('f') (numpy.asarray(...) views it)."""
        ptr = _lib.frz_session_logits(self._p, int(row))
        if not ptr:
            raise IndexError("no logits row %d in the latest eval" % row)
        return _floats_at(ptr, self.lm.n_vocab)

    def seq_len(self, seq=0):
        return _lib.frz_session_seq_len(self._p, int(seq))

    def truncate(self, seq=0, n=0):
        """Shortens slot seq to its first n positions (0: clears it; seq=-1: every slot)."""
        _lib.frz_session_seq_truncate(self._p, int(seq), int(n))

    def copy_seq(self, src, dst):
        """Makes slot dst a copy of slot src (KV cache and last logits): forks a prefix evaluated once."""
        _lib.frz_session_seq_copy(self._p, int(src), int(dst))

    # ---- generation and scoring
    def _generate(self, call, gp):
        out = (c_int32 * gp.cap)()
        n = c_size_t(0)
        try:
            self._sink.call(call, out, gp.cap, byref(n))
        except CancelledError as e:
            e.tokens = out[:n.value]
            raise
        return out[:n.value]

    def generate(self, seq=0, **params):
        """Continues slot seq (which holds at least one position); returns the new ids. Parameters: """
        gp = _GenParams(self._sink, **params)
        return self._generate(lambda out, cap, n: _lib.frz_generate(self._p, int(seq), byref(gp.params), out,
                                                                   cap, n), gp)
    generate.__doc__ += _GEN_DOC

    def score(self, continuation, seq=0):
        """Log-probability of continuation (ids, or text to tokenize) given slot seq, which is left as it was.
        Returns Score(total, token_logprobs)."""
        if isinstance(continuation, (str, bytes)):
            continuation = self.lm.tokenize(continuation)
        cont = _int32s(continuation)
        lp = (c_float * max(len(cont), 1))()
        total = c_double(0)
        self._sink.call(_lib.frz_score, self._p, int(seq), cont, len(cont), lp, byref(total))
        return Score(total.value, list(lp[:len(cont)]))

    def complete(self, text, seq=0, special=False, **params):
        """Clears slot seq, evaluates text, generates and returns the continuation's text."""
        ids = self.lm.tokenize(text, special=special)
        if not ids:
            ids = [self.lm.eot_token]
        self.truncate(seq, 0)
        self.eval(ids, seq=seq, logits=LogitsMode.NONE)
        return self.lm.detokenize(self.generate(seq, **params))

    def caption(self, vision, projector, image, max_tokens=20, seq=0):
        """Greedy caption of image (an Image, path, bytes or HxWx3 uint8 array); clears slot seq first."""
        with _as_image(image) as img:
            buf, n = _fill(lambda b, cap, need: self._sink.call(
                _lib.frz_caption, self._p, int(seq), vision._p, projector._p, img._p, int(max_tokens), b, cap,
                need), c_char, 64 * max(int(max_tokens), 1) + 1, extra=1)
        return buf.raw[:n].decode("utf-8", "replace")


def _logits_mode(m):
    if isinstance(m, str):
        return LogitsMode[m.upper()]
    return LogitsMode(m)


class Image(_Handle):
    """An 8-bit RGB image, immutable (threads may share it). Image(source) takes a path (str or os.PathLike) to a
    PNG or JPEG file, the encoded file as bytes/bytearray, or a height x width x 3 uint8 array (numpy, a 3-D
    memoryview, any buffer of that shape, or a PIL image). The classmethods say which explicitly (Image.open
    also takes a path given as bytes)."""

    _free = "frz_image_free"

    def __init__(self, source):
        if isinstance(source, (str, os.PathLike)):
            ptr = _out(_lib.frz_image_load_file, _path(source), T=_frz_image)
        elif isinstance(source, (bytes, bytearray)) or (isinstance(source, memoryview) and source.ndim == 1):
            data = bytes(source)
            ptr = _out(_lib.frz_image_load_memory, data, len(data), None, T=_frz_image)
        else:
            data, w, h = _rgb8(source)
            ptr = _out(_lib.frz_image_from_rgb8, data, w, h, 3 * w, T=_frz_image)
        self._own(ptr)

    @classmethod
    def open(cls, path):
        return cls._wrap(_out(_lib.frz_image_load_file, _path(path), T=_frz_image))

    @classmethod
    def from_bytes(cls, data, name=None):
        """Decodes PNG or JPEG bytes; name (optional) names the input in error messages."""
        data = bytes(data)
        return cls._wrap(_out(_lib.frz_image_load_memory, data, len(data),
                              None if name is None else _text(name), T=_frz_image))

    @classmethod
    def from_rgb8(cls, pixels, width, height, stride=None):
        """height rows of width*3 bytes (R, G, B), row r at offset r*stride (default 3*width)."""
        data = bytes(pixels)
        stride = 3 * width if stride is None else stride
        if height > 0 and len(data) < (height - 1) * stride + 3 * width:
            raise ValueError("from_rgb8: %d bytes are short of %d rows of stride %d" % (len(data), height, stride))
        return cls._wrap(_out(_lib.frz_image_from_rgb8, data, int(width), int(height), int(stride), T=_frz_image))

    @classmethod
    def from_array(cls, arr):
        """A HxWx3 uint8 array (numpy or any buffer of that shape, strided or not), or a PIL image."""
        data, w, h = _rgb8(arr)
        return cls._wrap(_out(_lib.frz_image_from_rgb8, data, w, h, 3 * w, T=_frz_image))

    @property
    def width(self):
        return _lib.frz_image_width(self._p)

    @property
    def height(self):
        return _lib.frz_image_height(self._p)

    @property
    def size(self):
        return (self.width, self.height)

    def pixels(self):
        """The pixels as bytes, rows of width*3 (R, G, B), tightly packed."""
        return ctypes.string_at(_lib.frz_image_pixels(self._p), 3 * self.width * self.height)

    def to_array(self):
        """A (height, width, 3) uint8 numpy array (needs numpy)."""
        import numpy
        return numpy.frombuffer(self.pixels(), dtype=numpy.uint8).reshape(self.height, self.width, 3).copy()

    def __repr__(self):
        return "<frozen.Image closed>" if self.closed else "<frozen.Image %dx%d>" % self.size


def _rgb8(arr):
    """(packed bytes, width, height) of a HxWx3 uint8 array, a buffer of that shape, or a PIL image."""
    if hasattr(arr, "convert") and hasattr(arr, "tobytes") and hasattr(arr, "size"):  # PIL.Image
        rgb = arr.convert("RGB")
        return rgb.tobytes(), rgb.size[0], rgb.size[1]
    np = sys.modules.get("numpy")
    if np is not None and isinstance(arr, np.ndarray):
        if arr.dtype != np.uint8:
            raise TypeError("image arrays must be uint8, not %s" % arr.dtype)
        arr = np.ascontiguousarray(arr)
    mv = memoryview(arr)
    if mv.ndim != 3 or mv.shape[2] != 3 or mv.itemsize != 1:
        raise ValueError("image arrays must be height x width x 3 bytes, not shape %s (item %d bytes)"
                         % (mv.shape, mv.itemsize))
    return mv.tobytes(), mv.shape[1], mv.shape[0]


class _Borrowed:
    """A context manager over an Image that closes it only if it made it."""

    def __init__(self, img, owned):
        self.img, self.owned = img, owned

    def __enter__(self):
        return self.img

    def __exit__(self, *exc):
        if self.owned:
            self.img.close()


def _as_image(x):
    if isinstance(x, Image):
        return _Borrowed(x, False)
    return _Borrowed(Image(x), True)


class Vision(_Handle):
    """The NF-ResNet encoder. Vision(path) loads a file written by save(); Vision.create(...) makes a new one.
    Read-only: threads may encode with one at once."""

    _free = "frz_vision_free"

    def __init__(self, path):
        self._own(_out(_lib.frz_vision_load, _path(path), T=_frz_vision))

    @classmethod
    def create(cls, arch="nf_resnet50", width=1.0, image_size=224, seed=0):
        """arch: "nf_resnet50" (the paper's), "nf_resnet26" or "tiny"; width multiplies channel counts."""
        return cls._wrap(_out(_lib.frz_vision_create, _text(arch), float(width), int(image_size), int(seed),
                              T=_frz_vision))

    def save(self, path):
        _lib.frz_vision_save(self._p, _path(path))

    n_features = _prop(_lib.frz_vision_get, VisionProp.N_FEATURES)
    image_size = _prop(_lib.frz_vision_get, VisionProp.IMAGE_SIZE)
    n_params = _prop(_lib.frz_vision_get, VisionProp.N_PARAMS)

    def encode(self, image, threads=1):
        """The pooled feature vector (n_features floats, array('f')) of an image (Image, path, bytes, array)."""
        with _as_image(image) as img:
            buf, n = _fill(lambda b, cap, need: _lib.frz_vision_encode(self._p, img._p, int(threads), b, cap, need),
                           c_float, self.n_features)
        return _farray(buf, n)


class Projector(_Handle):
    """The linear map pooled (n_features) -> n_prefix embeddings of width n_embd. Projector(path) loads."""

    _free = "frz_projector_free"

    def __init__(self, path):
        self._own(_out(_lib.frz_projector_load, _path(path), T=_frz_projector))

    @classmethod
    def create(cls, n_features, n_prefix, n_embd, seed=0):
        return cls._wrap(_out(_lib.frz_projector_create, int(n_features), int(n_prefix), int(n_embd), int(seed),
                              T=_frz_projector))

    def save(self, path):
        _lib.frz_projector_save(self._p, _path(path))

    n_features = _prop(_lib.frz_projector_get, ProjectorProp.N_FEATURES)
    n_prefix = _prop(_lib.frz_projector_get, ProjectorProp.N_PREFIX)
    n_embd = _prop(_lib.frz_projector_get, ProjectorProp.N_EMBD)
    n_params = _prop(_lib.frz_projector_get, ProjectorProp.N_PARAMS)

    def apply(self, pooled):
        """n_prefix * n_embd floats (array('f')) from n_features floats."""
        x = _floats(pooled)
        if len(x) != self.n_features:
            raise ValueError("apply: %d floats given, the projector takes %d" % (len(x), self.n_features))
        buf, n = _fill(lambda b, cap, need: _lib.frz_projector_apply(self._p, x, b, cap, need), c_float,
                       self.n_prefix * self.n_embd)
        return _farray(buf, n)


def image_prefix(vision, projector, image, threads=1):
    """Encoder then projector: the image's n_prefix * n_embd floats (array('f')), ready for Session.eval's embd
    at TOKEN_EMBEDDING positions."""
    with _as_image(image) as img:
        buf, n = _fill(lambda b, cap, need: _lib.frz_image_prefix(vision._p, projector._p, img._p, int(threads),
                                                                  b, cap, need),
                       c_float, projector.n_prefix * projector.n_embd)
    return _farray(buf, n)


class Prompt(_Handle):
    """Text, images and embedding vectors interleaved, run on a session slot. The add_* methods return the
    prompt, so calls chain. vision and projector (both or neither) encode images added without their own."""

    _free = "frz_prompt_free"

    def __init__(self, lm, vision=None, projector=None, threads=None, blind=None):
        ptr = _out(_lib.frz_prompt_create, lm._p, vision._p if vision is not None else None,
                   projector._p if projector is not None else None, T=_frz_prompt)
        self._own(ptr, parents=(lm, vision, projector))
        self.lm = lm
        if threads is not None:
            self.set_threads(threads)
        if blind is not None:
            self.set_blind(blind)

    def set_threads(self, n):
        """Threads that encode images."""
        _lib.frz_prompt_set_int(self._p, int(PromptOpt.THREADS), int(n))

    def set_blind(self, blind=True):
        """Images added afterwards become black images (the paper's blind baseline)."""
        _lib.frz_prompt_set_int(self._p, int(PromptOpt.BLIND), 1 if blind else 0)

    def clear(self):
        _lib.frz_prompt_clear(self._p)
        return self

    def add_text(self, text, special=False):
        data = _text(text)
        _lib.frz_prompt_add_text(self._p, data, len(data), TOKENIZE_SPECIAL if special else 0)
        return self

    def add_image(self, image, vision=None, projector=None):
        """image: an Image, a path, encoded bytes or a HxWx3 uint8 array; vision/projector: for this image only."""
        if (vision is None) != (projector is None):
            raise ValueError("add_image: give both vision and projector, or neither")
        if vision is not None or isinstance(image, Image):
            with _as_image(image) as img:
                if vision is None:
                    _lib.frz_prompt_add_image(self._p, img._p)
                else:
                    _lib.frz_prompt_add_image_with(self._p, img._p, vision._p, projector._p)
        elif isinstance(image, (str, os.PathLike)):
            _lib.frz_prompt_add_image_file(self._p, _path(image))
        elif isinstance(image, (bytes, bytearray)):
            data = bytes(image)
            _lib.frz_prompt_add_image_memory(self._p, data, len(data), None)
        else:
            data, w, h = _rgb8(image)
            _lib.frz_prompt_add_image_rgb8(self._p, data, w, h, 3 * w)
        return self

    def add_embeddings(self, embd):
        """Raw embedding vectors, n * n_embd floats (a numpy float32 (n, n_embd) array, array('f'), lists)."""
        x = _floats(embd)
        d = self.lm.n_embd
        if len(x) == 0 or len(x) % d:
            raise ValueError("add_embeddings: %d floats are not a positive multiple of n_embd %d" % (len(x), d))
        _lib.frz_prompt_add_embeddings(self._p, x, len(x) // d)
        return self

    def __len__(self):
        return _lib.frz_prompt_len(self._p)

    def tokens(self):
        """The id of every position; TOKEN_EMBEDDING (-1) at image and embedding positions."""
        buf, n = _fill(lambda b, cap, need: _lib.frz_prompt_tokens(self._p, b, cap, need), c_int32, len(self))
        return buf[:n]

    def embedding(self, pos):
        """The n_embd floats entering position pos in place of a token, or None at a token position."""
        ptr = _lib.frz_prompt_embedding(self._p, int(pos))
        return _floats_at(ptr, self.lm.n_embd) if ptr else None

    def segments(self):
        """[Segment(kind, start, n)] in append order."""
        out = []
        kind, start, n = c_int(0), c_size_t(0), c_size_t(0)
        for i in range(_lib.frz_prompt_n_segments(self._p)):
            _lib.frz_prompt_segment(self._p, i, byref(kind), byref(start), byref(n))
            out.append(Segment(SegmentKind(kind.value), start.value, n.value))
        return out

    def eval(self, session, seq=0, logits=LogitsMode.NONE, first=0, n=None):
        """Appends the prompt (or positions [first, first + n)) to slot seq of session and runs it."""
        mode = _logits_mode(logits)
        if first == 0 and n is None:
            session._sink.call(_lib.frz_prompt_eval, session._p, int(seq), self._p, int(mode))
            n = len(self)
        else:
            n = len(self) - first if n is None else n
            session._sink.call(_lib.frz_prompt_eval_range, session._p, int(seq), self._p, int(first), int(n),
                               int(mode))
        return {LogitsMode.LAST: 1, LogitsMode.ALL: n, LogitsMode.NONE: 0}[mode]

    def generate(self, session, seq=0, stop_newline=False, **params):
        """Evaluates the prompt on slot seq, then generates; returns the new ids. stop_newline: also stop at a
        newline. Parameters: """
        gp = _GenParams(session._sink, **params)
        flags = PROMPT_STOP_NEWLINE if stop_newline else 0
        return session._generate(lambda out, cap, n: _lib.frz_prompt_generate(
            session._p, int(seq), self._p, byref(gp.params), flags, out, cap, n), gp)
    generate.__doc__ += _GEN_DOC

    def generate_text(self, session, seq=0, stop_newline=False, **params):
        return self.lm.detokenize(self.generate(session, seq, stop_newline, **params))

    def score(self, session, candidates, seq=0):
        """Evaluates the prompt on slot seq, then the log-probability of each candidate text (a list of float)."""
        cands = [_text(c) for c in candidates]
        arr = (c_char_p * max(len(cands), 1))(*cands)
        out = (c_double * max(len(cands), 1))()
        session._sink.call(_lib.frz_prompt_score, session._p, int(seq), self._p, arr, len(cands), out)
        return list(out[:len(cands)])


# ---- parameters, progress and the stop protocol shared by the training calls ---------------------------------

_INTERNAL = ("struct_size", "progress", "progress_data", "abort", "abort_data", "reserved0")


def _public_fields(cls):
    """The members of a parameter struct that keyword arguments may set."""
    return tuple(name for name, _ in cls._fields_ if name not in _INTERNAL)


def _params(cls, init_size, params, known, where):
    """A parameter struct with the library's defaults, then the keyword arguments set by member name. Always
    *_init_size with our sizeof: a newer library's longer struct is never written past the end of ours."""
    p = cls()
    init_size(byref(p), ctypes.sizeof(p))
    ctypes_of = dict(cls._fields_)
    for name, value in params.items():
        if name not in known:
            raise TypeError("%s: unknown parameter %r (known: %s)" % (where, name, ", ".join(known)))
        ctype = ctypes_of[name]
        if ctype is c_char_p:
            value = None if value is None else (_text(value) if name == "vision_arch" else _path(value))
        elif ctype in (c_float, c_double):
            value = float(value)
        else:
            value = int(value)  # bools too
        setattr(p, name, value)
    return p


def _progress_ns(p):
    return types.SimpleNamespace(**{name: getattr(p, name) for name, _ in p._fields_ if name != "struct_size"})


def _copy_struct(ptr, cls):
    """A struct C handed over by pointer, copied: the members both sides know (its struct_size says how many
    bytes the library wrote), the rest zero -- an older library's shorter struct is never read past."""
    out = cls()
    ctypes.memmove(byref(out), ptr, min(ptr.contents.struct_size, ctypes.sizeof(cls)))
    return out


def _run_callbacks(progress, abort, fn_type, progress_cls):
    """The progress and abort callbacks of a training run: progress(p) -> truthy asks to stop, as does abort()
    -> truthy, or an exception in either (kept in .sink, re-raised once the run has stopped and saved). They
    close over a small state object, not the handle (no reference cycle through C's callbacks)."""
    sink, state = _Sink(), types.SimpleNamespace(stop=False)

    def on_progress(pp, _data):
        if progress is not None and progress(_progress_ns(_copy_struct(pp, progress_cls))):
            state.stop = True

    def on_abort(_data):
        if state.stop or sink.exc is not None:
            return 1
        return 1 if abort is not None and abort() else 0

    # a raising progress callback sets sink.exc, which the abort callback sees: a clean, saved stop
    return types.SimpleNamespace(sink=sink, state=state, progress=fn_type(sink.guard(on_progress, None)),
                                 abort=_ABORT_FN(sink.guard(on_abort, 1)))


class _Run(_Handle):
    """A training handle (Trainer, Pretrainer): run() and progress() over its C calls, named below."""

    _run_fn = _get_fn = None  # names of the frz_*_run and frz_*_get_progress functions
    _progress_cls = None

    def _start(self, create, lm, data, out_dir, p, progress, abort, fn_type):
        self._cbs = _run_callbacks(progress, abort, fn_type, self._progress_cls)
        p.progress = self._cbs.progress
        p.abort = self._cbs.abort
        self._params = p  # its strings and callbacks stay alive with the handle
        self._own(_out(create, lm._p, _path(data), _path(out_dir), byref(p), T=self._c_type), parents=(lm,))
        self.lm = lm
        self.out_dir = os.fspath(out_dir)

    def run(self):
        """Runs. Returns True when done, False when stopped on request (progress returned true or abort() did;
        what the run saves on a stop is written). A callback's exception is re-raised after the run has stopped
        and saved."""
        self._cbs.state.stop = False
        try:
            self._cbs.sink.call(getattr(_lib, self._run_fn), self._p)
        except CancelledError:
            return False
        return True

    def progress(self):
        """The latest progress (the numbers the progress callback gets)."""
        p = self._progress_cls()
        p.struct_size = ctypes.sizeof(p)
        getattr(_lib, self._get_fn)(self._p, byref(p))
        return _progress_ns(p)


# ---- training Frozen -------------------------------------------------------------------------------------------

TRAIN_PARAMS = _public_fields(frz_train_params)


class Trainer(_Run):
    """A Frozen training run (frz_train): Trainer(lm, data, out_dir, progress=fn, abort=fn, **params).

    data: a TSV (image path TAB caption) or COCO captions JSON; out_dir: the run folder. params: the fields of
    frz_train_params by name (TRAIN_PARAMS), e.g. vision_arch="tiny", batch_size=8, max_steps=100, resume=True.
    progress(p) is called after every step with the step's numbers (step, loss, val_ppl, ...); returning a true
    value asks training to stop. abort() -> truthy also stops it. A stop writes a checkpoint of the last
    completed step (resume with resume=True). One thread at a time; the LM may be used by others meanwhile.
    run() returns True when done (epochs, max_steps or early stopping), False when stopped on request."""

    _free, _run_fn, _get_fn = "frz_train_free", "frz_train_run", "frz_train_get_progress"
    _progress_cls, _c_type = frz_train_progress, _frz_train

    def __init__(self, lm, data, out_dir, progress=None, abort=None, **params):
        p = _params(frz_train_params, _lib.frz_train_params_init_size, params, TRAIN_PARAMS, "Trainer")
        self._start(_lib.frz_train_create, lm, data, out_dir, p, progress, abort, _PROGRESS_FN)


def train(lm, data, out_dir, progress=None, abort=None, **params):
    """Trainer(...).run() and close: True when done, False when stopped on request."""
    with Trainer(lm, data, out_dir, progress=progress, abort=abort, **params) as t:
        return t.run()


# ---- training a tokenizer and pretraining a language model ------------------------------------------------------

TOKENIZER_TRAIN_PARAMS = _public_fields(frz_tokenizer_train_params)
LM_CONFIG = _public_fields(frz_lm_config)
PRETRAIN_PARAMS = _public_fields(frz_pretrain_params)


def tokenizer_train(corpus, out_dir, abort=None, **params):
    """Trains a byte-level BPE tokenizer (GPT-2's format) on a text file and writes out_dir/vocab.json and
    out_dir/merges.txt (frz_tokenizer_train; out_dir is created if missing). params (TOKENIZER_TRAIN_PARAMS):
    vocab_size (default 50257, at least 257, <|endoftext|> included), min_frequency (2), n_threads (1),
    tab_segments (False: the whole file is one text; True: TABs and line ends separate segments, as
    `frozen pretrain --tab-segments` reads them). abort() -> truthy stops it: CancelledError, nothing written.
    Returns the run's numbers: n_bytes, n_words, n_unique_words, n_merges, n_vocab, last_count, count_s, merge_s."""
    p = _params(frz_tokenizer_train_params, _lib.frz_tokenizer_train_params_init_size, params,
                TOKENIZER_TRAIN_PARAMS, "tokenizer_train")
    sink = _Sink()
    if abort is not None:
        cb = _ABORT_FN(sink.guard(lambda _data: 1 if abort() else 0, 1))  # alive until the call returns
        p.abort = cb
    stats = frz_tokenizer_train_stats()
    stats.struct_size = ctypes.sizeof(stats)
    sink.call(_lib.frz_tokenizer_train, _path(corpus), _path(out_dir), byref(p), byref(stats))
    return _progress_ns(stats)


class Pretrainer(_Run):
    """Pretraining (next-token prediction) of a model's weights on a text corpus (frz_pretrain):
    Pretrainer(lm, corpus, out_dir, progress=fn, abort=fn, **params).

    corpus: UTF-8 text, one sample per line. params: the fields of frz_pretrain_params by name (PRETRAIN_PARAMS),
    e.g. steps=2000, batch_size=32, lr=1e-3, warmup=100, tab_segments=True, seed=0, n_threads=2. The model is
    trained in place (its weights become its own): no session may use it while run() runs. out_dir receives the
    model (LM(out_dir) loads it), metrics.csv and loss.png. progress(p) is called after every step (step,
    total_steps, epoch, loss, lr, tokens_per_s, val_loss, n_train, n_val, n_truncated, n_tokens, elapsed_s);
    returning a true value asks training to stop, as does abort() -> truthy: the model as it is after the last
    completed step is saved to out_dir, with the checkpoint that resume=True continues from (lm then being
    LM(out_dir), the same corpus and params). run() returns True when all steps are done, False when stopped."""

    _free, _run_fn, _get_fn = "frz_pretrain_free", "frz_pretrain_run", "frz_pretrain_get_progress"
    _progress_cls, _c_type = frz_pretrain_progress, _frz_pretrain

    def __init__(self, lm, corpus, out_dir, progress=None, abort=None, **params):
        p = _params(frz_pretrain_params, _lib.frz_pretrain_params_init_size, params, PRETRAIN_PARAMS, "Pretrainer")
        self._start(_lib.frz_pretrain_create, lm, corpus, out_dir, p, progress, abort, _PRETRAIN_PROGRESS_FN)


def pretrain(lm, corpus, out_dir, progress=None, abort=None, **params):
    """Pretrainer(...).run() and close: True when done, False when stopped on request."""
    with Pretrainer(lm, corpus, out_dir, progress=progress, abort=abort, **params) as t:
        return t.run()


# ---- logging --------------------------------------------------------------------------------------------------

_log_callbacks = []  # every log callback ever given to C: another thread may still be inside an old one


def set_log_callback(fn, level=LogLevel.INFO):
    """Process-wide: fn(level: LogLevel, text: str) receives the library's messages up to level; None silences
    it (the default). fn may be called from any thread; its exceptions are swallowed (C cannot take them)."""
    if fn is None:
        _lib.frz_set_log_callback(_LOG_FN(), None, int(level))
        return

    def on_log(lvl, text, _data):
        try:
            fn(LogLevel(lvl), text.decode("utf-8", "replace"))
        except BaseException:  # nowhere to raise it: C called us
            pass

    cb = _LOG_FN(on_log)
    _log_callbacks.append(cb)
    _lib.frz_set_log_callback(cb, None, int(level))


_TO_LOGGING = {LogLevel.ERROR: logging.ERROR, LogLevel.WARN: logging.WARNING, LogLevel.INFO: logging.INFO,
               LogLevel.DEBUG: logging.DEBUG}


def log_to_logging(logger="frozen", level=None):
    """Routes the library's messages to a logging.Logger (or its name). level: the most verbose LogLevel to
    build; default: what the logger's effective level lets through."""
    if not isinstance(logger, logging.Logger):
        logger = logging.getLogger(logger)
    if level is None:
        eff = logger.getEffectiveLevel()
        level = max((lv for lv, py in _TO_LOGGING.items() if py >= eff), default=LogLevel.ERROR)
    set_log_callback(lambda lv, text: logger.log(_TO_LOGGING[lv], "%s", text), level)
    return logger
