// frozen.hpp -- a header-only C++17 wrapper over libfrozen's C API (include/frozen.h).
//
//     frozen::lm model("models/gpt2");                        // throws frozen::error on failure
//     frozen::session s(model);
//     s.eval(0, model.tokenize("Hello, my dog"));             // prefill sequence slot 0
//     frozen::generate_options g;  g.max_tokens = 20;         // the library's defaults: greedy, stop at EOT
//     std::cout << model.detokenize(s.generate(0, g));
//
// What it adds to the C API, and nothing more:
// - Ownership: every handle is a std::unique_ptr with the matching frz_*_free as its deleter, so objects are
//   move-only and free themselves. A moved-from object holds NULL; calling it is safe: the C API answers
//   FRZ_ERR_INVALID_ARG, which throws like any failure.
// - Errors: a failing call throws frozen::error carrying the frz_status and the thread's frz_last_error() text,
//   captured at the throw. frozen::attempt(f) turns a throwing call into a result<T> (expected-style) instead.
// - Buffers: calls with the (buffer, capacity, *needed) protocol return std::vector / std::string, sized by the
//   library's answer. Inputs are frozen::view<T> (pointer + size; built from a vector, array, std::span, ...).
// - Callbacks: std::function for log, abort, streaming tokens and training progress. An exception thrown inside
//   one never crosses the C library: it stops the running call and is rethrown once that call has returned.
//
// Lifetimes follow the C header: a model outlives its sessions, prompts and trainers; an encoder and projector
// outlive the prompts that use them. Threads: lm, vision, projector and image may be shared by any number of
// threads; a session, prompt (while changing) or trainer is used by one thread at a time.
//
// Adding a new C function: write a method that calls it through detail::check (or detail::fill for buffer
// calls); a new handle type is one `detail::handle<frz_x, frz_x_free>` member.
#ifndef FROZEN_HPP
#define FROZEN_HPP

#include "frozen.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace frozen {

// ---- errors ----------------------------------------------------------------------------------------------------

// A failed call: the status code and the detailed message (frz_last_error()) at the time of the failure.
// what() is "<frz_strerror(code)>: <message>", the CLI's form.
class error : public std::runtime_error {
public:
    error(frz_status code, std::string message)
        : std::runtime_error(compose(code, message)), code_(code), message_(std::move(message))
    {
    }
    frz_status status() const noexcept { return code_; }
    // The library's detailed message alone (may be empty).
    const std::string &message() const noexcept { return message_; }

private:
    static std::string compose(frz_status code, const std::string &message)
    {
        std::string s = frz_strerror(code);
        if (!message.empty()) s += ": " + message;
        return s;
    }
    frz_status code_;
    std::string message_;
};

namespace detail {

inline void check(frz_status st)
{
    if (st != FRZ_OK) throw error(st, frz_last_error());
}

template <class T, void (*Free)(T *)>
struct deleter {
    void operator()(T *p) const noexcept { Free(p); }
};
// An owning handle: frees itself with the C API's free function.
template <class T, void (*Free)(T *)>
using handle = std::unique_ptr<T, deleter<T, Free>>;

// A parameter struct with the library's defaults, sized as this program compiled it: always through the
// *_init_size function with our sizeof (a newer library's struct may be longer; it writes only what fits and
// sets struct_size to our size, which tells it which members we know).
template <class T>
T init_params(void (*init_size)(T *, size_t))
{
    static_assert(std::is_trivially_copyable_v<T>, "C parameter structs are plain data");
    T out;
    std::memset(&out, 0, sizeof out);
    init_size(&out, sizeof out);
    return out;
}

// A struct the library hands to a callback, copied: as much as both sides know (struct_size says what the
// library wrote), the rest zero -- an older library's shorter struct is never read past its end.
template <class T>
T copy_struct(const T *p)
{
    T out{};
    std::memcpy(&out, p, p->struct_size < sizeof out ? p->struct_size : sizeof out);
    out.struct_size = sizeof out;
    return out;
}

// Runs a buffer-protocol call (buffer, capacity, *needed): once with guess elements, again with what the
// library asked for when that was short.
template <class T, class Call>
std::vector<T> fill(size_t guess, Call call)
{
    std::vector<T> buf(guess > 0 ? guess : 1);
    size_t need = 0;
    frz_status st = call(buf.data(), buf.size(), &need);
    if (st == FRZ_ERR_BUFFER_TOO_SMALL && need > buf.size()) {
        buf.resize(need);
        st = call(buf.data(), buf.size(), &need);
    }
    check(st);
    buf.resize(need);
    return buf;
}

// The same for NUL-terminated text (the capacity includes the NUL, *needed does not).
template <class Call>
std::string fill_text(size_t guess, Call call)
{
    std::vector<char> buf = fill<char>(guess + 1, [&](char *p, size_t cap, size_t *need) {
        frz_status st = call(p, cap, need);
        if (st == FRZ_OK || st == FRZ_ERR_BUFFER_TOO_SMALL) *need += 1;  // room for the NUL
        return st;
    });
    return std::string(buf.data(), buf.size() - 1);
}

// Carries an exception out of a C callback: the callback stores it and asks the library to stop; the wrapper
// rethrows it once the C call has returned.
struct callback_error {
    std::exception_ptr pending;
    template <class F>
    int guard(F &&f) noexcept
    {
        try {
            return f();
        } catch (...) {
            if (!pending) pending = std::current_exception();
            return 1;
        }
    }
    // Rethrows a stored exception (it wins over the status it caused), else throws for a failing status.
    void finish(frz_status st)
    {
        if (pending) std::rethrow_exception(std::exchange(pending, nullptr));
        check(st);
    }
};

// The callbacks of a training run (trainer, pretrainer): Options holds progress (std::function taking a const
// Progress &) and abort (std::function<bool()>). Lives on the heap: the C run keeps its address.
template <class Options, class Progress>
struct run_state {
    Options options;
    callback_error err;

    // Points the C parameters' progress and abort members at this state.
    template <class Params>
    void attach(Params &p)
    {
        if (options.progress) p.progress = progress_trampoline, p.progress_data = this;
        // Polled also when only progress is set: an exception thrown by progress stops the run there.
        if (options.progress || options.abort) p.abort = abort_trampoline, p.abort_data = this;
    }
    static void progress_trampoline(const Progress *p, void *user) noexcept
    {
        auto *s = static_cast<run_state *>(user);
        if (s->err.pending) return;  // an earlier callback failed; the abort poll stops the run
        const Progress copy = copy_struct(p);
        s->err.guard([&] {
            s->options.progress(copy);
            return 0;
        });
    }
    static int abort_trampoline(void *user) noexcept
    {
        auto *s = static_cast<run_state *>(user);
        if (s->err.pending) return 1;
        return s->err.guard([&] { return s->options.abort && s->options.abort() ? 1 : 0; });
    }
};

// What trainer and pretrainer share: the handle, its callback state, run() and progress().
template <class T, void (*Free)(T *), frz_status (*Run)(T *), class Progress,
          frz_status (*GetProgress)(const T *, Progress *), class Options>
class run_handle {
public:
    // Runs to the end. Throws FRZ_ERR_CANCELLED when the abort callback stopped it, or what a callback threw;
    // either way after the run has saved what it saves on a stop.
    void run()
    {
        const frz_status st = Run(h_.get());
        if (st_) st_->err.finish(st);
        else check(st);
    }
    Progress progress() const
    {
        Progress p{};
        p.struct_size = sizeof p;
        check(GetProgress(h_.get(), &p));
        return p;
    }
    T *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

protected:
    using state = run_state<Options, Progress>;
    // Keeps the options (their strings stay alive with the handle), makes the C parameters with fill(options),
    // points their callbacks here, then creates the C object with create(&params, &out).
    template <class Fill, class Create>
    void start(Options o, Fill fill, Create create)
    {
        st_.reset(new state{std::move(o), {}});
        auto params = fill(static_cast<const Options &>(st_->options));
        st_->attach(params);
        T *out = nullptr;
        check(create(&params, &out));
        h_.reset(out);
    }

private:
    // Declared before the handle, so destroyed after it: the C run never outlives the state it points to.
    std::unique_ptr<state> st_;
    handle<T, Free> h_;
};

}  // namespace detail

// ---- a non-throwing style -------------------------------------------------------------------------------------

// A value or the error that prevented it (expected-style). value() throws the error when there is none.
template <class T>
class result {
public:
    result(T value) : value_(std::move(value)) {}
    result(frz_status code, std::string message) : code_(code), message_(std::move(message)) {}
    bool ok() const noexcept { return value_.has_value(); }
    explicit operator bool() const noexcept { return ok(); }
    frz_status status() const noexcept { return code_; }
    const std::string &message() const noexcept { return message_; }
    T &value() &
    {
        if (!value_) throw error(code_, message_);
        return *value_;
    }
    T &&value() &&
    {
        if (!value_) throw error(code_, message_);
        return std::move(*value_);
    }
    T *operator->() { return &value(); }
    T &operator*() & { return value(); }

private:
    std::optional<T> value_;
    frz_status code_ = FRZ_OK;
    std::string message_;
};

// Calls f() and returns its value, or the frozen::error it threw as a failed result (other exceptions pass).
// A function returning void gives result<std::monostate>.
template <class F>
auto attempt(F &&f)
{
    using R = std::invoke_result_t<F>;
    using V = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
    try {
        if constexpr (std::is_void_v<R>) {
            f();
            return result<V>(std::monostate{});
        } else {
            return result<V>(f());
        }
    } catch (const error &e) {
        return result<V>(e.status(), e.message());
    }
}

// ---- views ------------------------------------------------------------------------------------------------------

// A read-only run of T: pointer and size, from anything with data() and size() (vector, array, std::span,
// string) or a braced list. It does not own its elements.
template <class T>
class view {
public:
    constexpr view() noexcept = default;
    constexpr view(const T *data, size_t size) noexcept : data_(data), size_(size) {}
    template <class C, class = std::enable_if_t<
                           std::is_convertible_v<decltype(std::data(std::declval<const C &>())), const T *> &&
                           !std::is_same_v<std::decay_t<C>, view>>>
    constexpr view(const C &c) noexcept : data_(std::data(c)), size_(std::size(c))
    {
    }
    // For call arguments only: a braced list lives until the end of the call's full expression.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
    constexpr view(std::initializer_list<T> list) noexcept : data_(list.begin()), size_(list.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    constexpr const T *data() const noexcept { return data_; }
    constexpr size_t size() const noexcept { return size_; }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr const T *begin() const noexcept { return data_; }
    constexpr const T *end() const noexcept { return data_ + size_; }
    constexpr const T &operator[](size_t i) const noexcept { return data_[i]; }
    std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }

private:
    const T *data_ = nullptr;
    size_t size_ = 0;
};

// ---- library-wide ------------------------------------------------------------------------------------------------

inline unsigned version_number() noexcept { return frz_version_number(); }
inline std::string version_string() { return frz_version_string(); }
inline std::string blas_corename() { return frz_blas_corename(); }
// Advice when the BLAS kernel does not suit the CPU; empty when it does.
inline std::string blas_advice()
{
    const char *a = frz_blas_advice();
    return a ? a : "";
}

// The log callback: one line per call, from any thread. Process-wide, as in the C API.
using log_fn = std::function<void(frz_log_level level, std::string_view text)>;

namespace detail {
struct log_slot {
    std::mutex mutex;
    std::shared_ptr<log_fn> fn;
};
inline log_slot &the_log()
{
    static log_slot slot;
    return slot;
}
inline void log_trampoline(frz_log_level level, const char *text, void *) noexcept
{
    std::shared_ptr<log_fn> fn;
    {
        std::lock_guard<std::mutex> lock(the_log().mutex);
        fn = the_log().fn;
    }
    if (!fn) return;
    try {
        (*fn)(level, text ? std::string_view(text) : std::string_view());
    } catch (...) {
        // A logger has no way to report failure back; its exception is dropped rather than crossing C.
    }
}
}  // namespace detail

// Sends the library's messages up to max_level to fn; an empty fn silences the library again.
inline void set_log_callback(log_fn fn, frz_log_level max_level = FRZ_LOG_INFO)
{
    detail::log_slot &slot = detail::the_log();
    const bool on = static_cast<bool>(fn);
    {
        std::lock_guard<std::mutex> lock(slot.mutex);
        slot.fn = on ? std::make_shared<log_fn>(std::move(fn)) : nullptr;
    }
    frz_set_log_callback(on ? detail::log_trampoline : nullptr, nullptr, max_level);
}

// ---- images --------------------------------------------------------------------------------------------------------

// A decoded 8-bit RGB image (immutable; threads may share it).
class image {
public:
    image() = default;
    static image load_file(const std::string &path)
    {
        frz_image *p = nullptr;
        detail::check(frz_image_load_file(path.c_str(), &p));
        return image(p);
    }
    // name (may be empty) names the input in error messages.
    static image load_memory(view<uint8_t> bytes, const std::string &name = "")
    {
        frz_image *p = nullptr;
        detail::check(frz_image_load_memory(bytes.data(), bytes.size(), name.empty() ? nullptr : name.c_str(), &p));
        return image(p);
    }
    // height rows of width * 3 bytes; stride 0 means tightly packed.
    static image from_rgb8(view<uint8_t> pixels, int32_t width, int32_t height, size_t stride = 0)
    {
        if (stride == 0) stride = static_cast<size_t>(width > 0 ? width : 0) * 3;
        if (height > 0 && pixels.size() < stride * static_cast<size_t>(height - 1) + static_cast<size_t>(width) * 3)
            throw error(FRZ_ERR_SHAPE, "frozen::image::from_rgb8: " + std::to_string(pixels.size()) +
                                           " bytes hold fewer than " + std::to_string(height) + " rows");
        frz_image *p = nullptr;
        detail::check(frz_image_from_rgb8(pixels.data(), width, height, stride, &p));
        return image(p);
    }
    int32_t width() const noexcept { return frz_image_width(h_.get()); }
    int32_t height() const noexcept { return frz_image_height(h_.get()); }
    // (height, width, 3) bytes.
    view<uint8_t> pixels() const noexcept
    {
        const uint8_t *p = frz_image_pixels(h_.get());
        return p ? view<uint8_t>(p, static_cast<size_t>(width()) * static_cast<size_t>(height()) * 3) : view<uint8_t>();
    }
    const frz_image *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    explicit image(frz_image *p) noexcept : h_(p) {}
    detail::handle<frz_image, frz_image_free> h_;
};

// ---- the vision encoder and the projector ----------------------------------------------------------------------

class vision {
public:
    vision() = default;
    // arch "nf_resnet50", "nf_resnet26" or "tiny"; see frz_vision_create.
    static vision create(const std::string &arch, float width, int32_t image_size, uint64_t seed)
    {
        vision v;
        frz_vision *p = nullptr;
        detail::check(frz_vision_create(arch.c_str(), width, image_size, seed, &p));
        v.h_.reset(p);
        return v;
    }
    static vision load(const std::string &path)
    {
        vision v;
        frz_vision *p = nullptr;
        detail::check(frz_vision_load(path.c_str(), &p));
        v.h_.reset(p);
        return v;
    }
    void save(const std::string &path) const { detail::check(frz_vision_save(h_.get(), path.c_str())); }
    int64_t get(frz_vision_prop prop) const noexcept { return frz_vision_get(h_.get(), prop); }
    int64_t n_features() const noexcept { return get(FRZ_VISION_N_FEATURES); }
    int64_t image_size() const noexcept { return get(FRZ_VISION_IMAGE_SIZE); }
    int64_t n_params() const noexcept { return get(FRZ_VISION_N_PARAMS); }
    // The pooled vector (n_features floats).
    std::vector<float> encode(const image &img, int32_t n_threads = 1) const
    {
        return detail::fill<float>(static_cast<size_t>(n_features() > 0 ? n_features() : 1),
                                   [&](float *p, size_t cap, size_t *need) {
                                       return frz_vision_encode(h_.get(), img.get(), n_threads, p, cap, need);
                                   });
    }
    const frz_vision *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    detail::handle<frz_vision, frz_vision_free> h_;
};

class projector {
public:
    projector() = default;
    static projector create(int32_t n_features, int32_t n_prefix, int32_t n_embd, uint64_t seed)
    {
        projector pr;
        frz_projector *p = nullptr;
        detail::check(frz_projector_create(n_features, n_prefix, n_embd, seed, &p));
        pr.h_.reset(p);
        return pr;
    }
    static projector load(const std::string &path)
    {
        projector pr;
        frz_projector *p = nullptr;
        detail::check(frz_projector_load(path.c_str(), &p));
        pr.h_.reset(p);
        return pr;
    }
    void save(const std::string &path) const { detail::check(frz_projector_save(h_.get(), path.c_str())); }
    int64_t get(frz_projector_prop prop) const noexcept { return frz_projector_get(h_.get(), prop); }
    int64_t n_features() const noexcept { return get(FRZ_PROJECTOR_N_FEATURES); }
    int64_t n_prefix() const noexcept { return get(FRZ_PROJECTOR_N_PREFIX); }
    int64_t n_embd() const noexcept { return get(FRZ_PROJECTOR_N_EMBD); }
    int64_t n_params() const noexcept { return get(FRZ_PROJECTOR_N_PARAMS); }
    // n_prefix * n_embd floats from a pooled vector of n_features floats.
    std::vector<float> apply(view<float> pooled) const
    {
        if (n_features() > 0 && pooled.size() != static_cast<size_t>(n_features()))
            throw error(FRZ_ERR_SHAPE, "frozen::projector::apply: " + std::to_string(pooled.size()) +
                                           " floats given, the projector reads " + std::to_string(n_features()));
        return detail::fill<float>(static_cast<size_t>(n_prefix() > 0 ? n_prefix() * n_embd() : 1),
                                   [&](float *p, size_t cap, size_t *need) {
                                       return frz_projector_apply(h_.get(), pooled.data(), p, cap, need);
                                   });
    }
    const frz_projector *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    detail::handle<frz_projector, frz_projector_free> h_;
};

// Encoder then projector: the image's n_prefix * n_embd floats, ready to enter an eval as embeddings.
inline std::vector<float> image_prefix(const vision &v, const projector &p, const image &img, int32_t n_threads = 1)
{
    const int64_t n = p.n_prefix() * p.n_embd();
    return detail::fill<float>(static_cast<size_t>(n > 0 ? n : 1), [&](float *out, size_t cap, size_t *need) {
        return frz_image_prefix(v.get(), p.get(), img.get(), n_threads, out, cap, need);
    });
}

// ---- the language model ------------------------------------------------------------------------------------------

inline constexpr unsigned tokenize_special = FRZ_TOKENIZE_SPECIAL;

// The shape of a new random model (lm::create_random); the defaults are the library's (frz_lm_config_init):
// 4 layers, 4 heads, width 128, 256 positions, MLP width 4 n_embd, the LM head tied to wte.
struct lm_config {
    int32_t n_layer, n_head, n_embd, n_ctx;
    int32_t n_inner;      // MLP width; 0: 4 n_embd
    int32_t untied_head;  // 0: the LM head is wte (GPT-2); 1: a head of its own (lm_head.weight)

    lm_config()
    {
        const frz_lm_config d = detail::init_params(frz_lm_config_init_size);
        n_layer = d.n_layer;
        n_head = d.n_head;
        n_embd = d.n_embd;
        n_ctx = d.n_ctx;
        n_inner = d.n_inner;
        untied_head = d.untied_head;
    }
};

// A GPT-2 model, read-only once loaded: any number of threads may use it at once. Only pretraining changes it
// (pretrainer takes it by non-const reference; no session may use it meanwhile).
class lm {
public:
    lm() = default;
    // A new GPT-2 with GPT-2's random initialisation and the tokenizer of tokenizer_dir (vocab.json +
    // merges.txt; n_vocab is its number of ids). The same seed gives the same weights. See frz_lm_create_random.
    static lm create_random(const std::string &tokenizer_dir, const lm_config &c = lm_config(), uint64_t seed = 0)
    {
        frz_lm_config cfg = detail::init_params(frz_lm_config_init_size);
        cfg.n_layer = c.n_layer;
        cfg.n_head = c.n_head;
        cfg.n_embd = c.n_embd;
        cfg.n_ctx = c.n_ctx;
        cfg.n_inner = c.n_inner;
        cfg.untied_head = c.untied_head;
        frz_lm *p = nullptr;
        detail::check(frz_lm_create_random(&cfg, tokenizer_dir.c_str(), seed, &p));
        lm m;
        m.h_.reset(p);
        return m;
    }
    explicit lm(const std::string &dir)
    {
        frz_lm *p = nullptr;
        detail::check(frz_lm_load(dir.c_str(), &p));
        h_.reset(p);
    }
    static result<lm> try_load(const std::string &dir) noexcept
    {
        frz_lm *p = nullptr;
        frz_status st = frz_lm_load(dir.c_str(), &p);
        if (st != FRZ_OK) return result<lm>(st, frz_last_error());
        lm m;
        m.h_.reset(p);
        return m;
    }
    int64_t get(frz_lm_prop prop) const noexcept { return frz_lm_get(h_.get(), prop); }
    int64_t n_layer() const noexcept { return get(FRZ_LM_N_LAYER); }
    int64_t n_head() const noexcept { return get(FRZ_LM_N_HEAD); }
    int64_t n_embd() const noexcept { return get(FRZ_LM_N_EMBD); }
    int64_t n_vocab() const noexcept { return get(FRZ_LM_N_VOCAB); }
    int64_t n_ctx() const noexcept { return get(FRZ_LM_N_CTX); }
    int64_t eot_token() const noexcept { return get(FRZ_LM_EOT_TOKEN); }
    int64_t n_params() const noexcept { return get(FRZ_LM_N_PARAMS); }

    // flags: 0 or frozen::tokenize_special.
    std::vector<int32_t> tokenize(std::string_view text, unsigned flags = 0) const
    {
        const char *p = text.data() ? text.data() : "";
        // Byte-level BPE gives at most one id per byte.
        return detail::fill<int32_t>(text.size() + 1, [&](int32_t *ids, size_t cap, size_t *n) {
            return frz_tokenize(h_.get(), p, text.size(), flags, ids, cap, n);
        });
    }
    // The ids' bytes (UTF-8 unless the ids split a character).
    std::string detokenize(view<int32_t> ids) const
    {
        return detail::fill_text(ids.size() * 8 + 16, [&](char *text, size_t cap, size_t *n) {
            return frz_detokenize(h_.get(), ids.data(), ids.size(), text, cap, n);
        });
    }
    // Writes the model as a Hugging Face GPT-2 folder (config.json, model.safetensors, vocab.json, merges.txt)
    // that lm(dir) loads back bit for bit; dir is created if missing (not its parents).
    void save(const std::string &dir) const { detail::check(frz_lm_save(h_.get(), dir.c_str())); }
    const frz_lm *get() const noexcept { return h_.get(); }
    frz_lm *get() noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    detail::handle<frz_lm, frz_lm_free> h_;
};

// ---- prompts: text, images and embedding vectors ---------------------------------------------------------------

struct prompt_segment {
    frz_prompt_seg_kind kind;
    size_t start, n;
};

class prompt {
public:
    prompt() = default;
    // A prompt without an encoder: text and embeddings, or images through add_image(img, v, p).
    explicit prompt(const lm &model) : prompt(model, nullptr, nullptr) {}
    prompt(const lm &model, const vision &v, const projector &p) : prompt(model, v.get(), p.get()) {}

    void set_threads(int64_t n) { detail::check(frz_prompt_set_int(h_.get(), FRZ_PROMPT_OPT_THREADS, n)); }
    void set_blind(bool on) { detail::check(frz_prompt_set_int(h_.get(), FRZ_PROMPT_OPT_BLIND, on ? 1 : 0)); }
    void clear() noexcept { frz_prompt_clear(h_.get()); }

    prompt &add_text(std::string_view text, unsigned flags = 0)
    {
        detail::check(frz_prompt_add_text(h_.get(), text.data() ? text.data() : "", text.size(), flags));
        return *this;
    }
    prompt &add_image(const image &img)
    {
        detail::check(frz_prompt_add_image(h_.get(), img.get()));
        return *this;
    }
    prompt &add_image(const image &img, const vision &v, const projector &p)
    {
        detail::check(frz_prompt_add_image_with(h_.get(), img.get(), v.get(), p.get()));
        return *this;
    }
    prompt &add_image_file(const std::string &path)
    {
        detail::check(frz_prompt_add_image_file(h_.get(), path.c_str()));
        return *this;
    }
    prompt &add_image_memory(view<uint8_t> bytes, const std::string &name = "")
    {
        detail::check(frz_prompt_add_image_memory(h_.get(), bytes.data(), bytes.size(),
                                                  name.empty() ? nullptr : name.c_str()));
        return *this;
    }
    prompt &add_image_rgb8(view<uint8_t> pixels, int32_t width, int32_t height, size_t stride = 0)
    {
        if (stride == 0) stride = static_cast<size_t>(width > 0 ? width : 0) * 3;
        if (height > 0 && pixels.size() < stride * static_cast<size_t>(height - 1) + static_cast<size_t>(width) * 3)
            throw error(FRZ_ERR_SHAPE, "frozen::prompt::add_image_rgb8: " + std::to_string(pixels.size()) +
                                           " bytes hold fewer than " + std::to_string(height) + " rows");
        detail::check(frz_prompt_add_image_rgb8(h_.get(), pixels.data(), width, height, stride));
        return *this;
    }
    // Whole vectors of the model's width, one position each.
    prompt &add_embeddings(view<float> embd)
    {
        if (n_embd_ <= 0 || embd.size() % static_cast<size_t>(n_embd_) != 0)
            throw error(FRZ_ERR_SHAPE, "frozen::prompt::add_embeddings: " + std::to_string(embd.size()) +
                                           " floats are not whole vectors of " + std::to_string(n_embd_));
        detail::check(frz_prompt_add_embeddings(h_.get(), embd.data(), embd.size() / static_cast<size_t>(n_embd_)));
        return *this;
    }

    size_t size() const noexcept { return frz_prompt_len(h_.get()); }
    // Every position's id, FRZ_TOKEN_EMBEDDING at image and embedding positions.
    std::vector<int32_t> tokens() const
    {
        return detail::fill<int32_t>(size(), [&](int32_t *ids, size_t cap, size_t *n) {
            return frz_prompt_tokens(h_.get(), ids, cap, n);
        });
    }
    // The vector entering position pos; empty at a token position or out of range.
    view<float> embedding(size_t pos) const noexcept
    {
        const float *e = frz_prompt_embedding(h_.get(), pos);
        return e ? view<float>(e, static_cast<size_t>(n_embd_)) : view<float>();
    }
    std::vector<prompt_segment> segments() const
    {
        std::vector<prompt_segment> out(frz_prompt_n_segments(h_.get()));
        for (size_t i = 0; i < out.size(); i++)
            detail::check(frz_prompt_segment(h_.get(), i, &out[i].kind, &out[i].start, &out[i].n));
        return out;
    }
    const frz_prompt *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    prompt(const lm &model, const frz_vision *v, const frz_projector *p) : n_embd_(model.n_embd())
    {
        frz_prompt *out = nullptr;
        detail::check(frz_prompt_create(model.get(), v, p, &out));
        h_.reset(out);
    }
    detail::handle<frz_prompt, frz_prompt_free> h_;
    int64_t n_embd_ = 0;
};

// ---- sessions: generation and scoring ---------------------------------------------------------------------------

// Generation settings. The defaults are the library's (frz_generate_params_init): greedy, 64 tokens, stop at
// <|endoftext|>.
struct generate_options {
    int32_t max_tokens;
    float temperature;  // <= 0: greedy
    int32_t top_k;      // 0: off
    float top_p;        // 1: off
    bool stop_at_eot;
    std::vector<std::string> stop;  // stop strings: the output ends before the token where one begins
    // Called after each generated token; return false to stop generating (not an error).
    std::function<bool(int32_t token)> on_token;

    generate_options()
    {
        const frz_generate_params d = detail::init_params(frz_generate_params_init_size);
        max_tokens = d.max_tokens;
        temperature = d.temperature;
        top_k = d.top_k;
        top_p = d.top_p;
        stop_at_eot = d.stop_at_eot != 0;
    }
};

// Prompt generation flag: also stop at a newline.
inline constexpr unsigned stop_newline = FRZ_PROMPT_STOP_NEWLINE;

struct score_result {
    double total;                 // natural-log probability of the whole continuation
    std::vector<float> per_token; // one log-probability per continuation token
};

// Per-thread state over a model: sequence slots with their KV caches. One thread at a time.
class session {
public:
    session() = default;
    explicit session(const lm &model) : cb_(new callbacks), n_vocab_(model.n_vocab()), n_embd_(model.n_embd())
    {
        frz_session *p = nullptr;
        detail::check(frz_session_create(model.get(), &p));
        h_.reset(p);
    }

    void set_threads(int64_t n) { detail::check(frz_session_set_int(h_.get(), FRZ_OPT_THREADS, n)); }
    void set_seed(int64_t seed) { detail::check(frz_session_set_int(h_.get(), FRZ_OPT_SEED, seed)); }
    void set_max_seqs(int64_t n) { detail::check(frz_session_set_int(h_.get(), FRZ_OPT_MAX_SEQS, n)); }
    // fn returns true to stop the running call (it then throws frozen::error with FRZ_ERR_CANCELLED). Polled
    // between layers and tokens. An empty fn removes it.
    void set_abort(std::function<bool()> fn)
    {
        if (!h_) return;
        cb_->abort = std::move(fn);
        frz_session_set_abort(h_.get(), cb_->abort ? abort_trampoline : nullptr, cb_.get());
    }

    // The raw batched eval over any inputs (frz_input: seq, n, tokens, embd).
    void eval(view<frz_input> inputs, frz_logits_mode mode = FRZ_LOGITS_LAST)
    {
        run([&] { return frz_session_eval(h_.get(), inputs.data(), inputs.size(), mode); });
    }
    // Appends tokens to sequence seq.
    void eval(int32_t seq, view<int32_t> tokens, frz_logits_mode mode = FRZ_LOGITS_LAST)
    {
        const frz_input in = {seq, tokens.size(), tokens.data(), nullptr};
        eval(view<frz_input>(&in, 1), mode);
    }
    // Appends embedding vectors (whole vectors of the model's width) to sequence seq.
    void eval_embeddings(int32_t seq, view<float> embd, frz_logits_mode mode = FRZ_LOGITS_LAST)
    {
        if (n_embd_ <= 0 || embd.size() % static_cast<size_t>(n_embd_) != 0)
            throw error(FRZ_ERR_SHAPE, "frozen::session::eval_embeddings: " + std::to_string(embd.size()) +
                                           " floats are not whole vectors of " + std::to_string(n_embd_));
        const frz_input in = {seq, embd.size() / static_cast<size_t>(n_embd_), nullptr, embd.data()};
        eval(view<frz_input>(&in, 1), mode);
    }
    // Row `row` of the latest eval's logits (n_vocab floats), empty when out of range. Valid until the next call.
    view<float> logits(size_t row = 0) const noexcept
    {
        const float *l = frz_session_logits(h_.get(), row);
        return l ? view<float>(l, static_cast<size_t>(n_vocab_)) : view<float>();
    }
    int64_t seq_len(int32_t seq) const noexcept { return frz_session_seq_len(h_.get(), seq); }
    // Shortens sequence seq (-1: every slot) to n positions.
    void truncate(int32_t seq, size_t n = 0) { detail::check(frz_session_seq_truncate(h_.get(), seq, n)); }
    void copy(int32_t src, int32_t dst) { detail::check(frz_session_seq_copy(h_.get(), src, dst)); }

    // Continues sequence seq; returns the new ids.
    std::vector<int32_t> generate(int32_t seq, const generate_options &o = generate_options())
    {
        return generate_impl(o, [&](const frz_generate_params *gp, int32_t *out, size_t cap, size_t *n) {
            return frz_generate(h_.get(), seq, gp, out, cap, n);
        });
    }
    // Log-probabilities of the continuation given sequence seq (which is left as it was).
    score_result score(int32_t seq, view<int32_t> cont)
    {
        score_result r{0.0, std::vector<float>(cont.size())};
        run([&] { return frz_score(h_.get(), seq, cont.data(), cont.size(), r.per_token.data(), &r.total); });
        return r;
    }

    // Prompts: appended to what slot seq holds.
    void eval(int32_t seq, const prompt &p, frz_logits_mode mode = FRZ_LOGITS_LAST)
    {
        run([&] { return frz_prompt_eval(h_.get(), seq, p.get(), mode); });
    }
    void eval_range(int32_t seq, const prompt &p, size_t first, size_t n, frz_logits_mode mode = FRZ_LOGITS_LAST)
    {
        run([&] { return frz_prompt_eval_range(h_.get(), seq, p.get(), first, n, mode); });
    }
    // Evaluates the prompt on seq, then generates; flags: 0 or frozen::stop_newline.
    std::vector<int32_t> generate(int32_t seq, const prompt &p, const generate_options &o = generate_options(),
                                  unsigned flags = 0)
    {
        return generate_impl(o, [&](const frz_generate_params *gp, int32_t *out, size_t cap, size_t *n) {
            return frz_prompt_generate(h_.get(), seq, p.get(), gp, flags, out, cap, n);
        });
    }
    // Evaluates the prompt on seq, then the log-probability of each candidate text.
    std::vector<double> score(int32_t seq, const prompt &p, const std::vector<std::string> &candidates)
    {
        std::vector<const char *> c;
        for (const std::string &s : candidates) c.push_back(s.c_str());
        std::vector<double> out(candidates.size());
        run([&] { return frz_prompt_score(h_.get(), seq, p.get(), c.data(), c.size(), out.data()); });
        return out;
    }
    // Greedy caption of an image on slot seq (cleared first).
    std::string caption(int32_t seq, const vision &v, const projector &p, const image &img, int32_t max_tokens = 32)
    {
        std::string text;
        run([&] {
            // A caption is rerun when the first guess of its length was short (greedy: the same text again).
            std::vector<char> buf(static_cast<size_t>(max_tokens > 0 ? max_tokens : 1) * 8 + 64);
            size_t n = 0;
            frz_status st = frz_caption(h_.get(), seq, v.get(), p.get(), img.get(), max_tokens, buf.data(),
                                        buf.size(), &n);
            if (st == FRZ_ERR_BUFFER_TOO_SMALL) {
                buf.resize(n + 1);
                st = frz_caption(h_.get(), seq, v.get(), p.get(), img.get(), max_tokens, buf.data(), buf.size(), &n);
            }
            if (st == FRZ_OK) text.assign(buf.data(), n);
            return st;
        });
        return text;
    }

    frz_session *get() const noexcept { return h_.get(); }
    explicit operator bool() const noexcept { return h_ != nullptr; }

private:
    // Callback state lives on the heap so that its address, given to the C library, survives moves.
    struct callbacks {
        std::function<bool()> abort;
        detail::callback_error err;
        std::function<bool(int32_t)> *on_token = nullptr;
    };
    static int abort_trampoline(void *user) noexcept
    {
        auto *cb = static_cast<callbacks *>(user);
        return cb->err.guard([&] { return cb->abort() ? 1 : 0; });
    }
    static int token_trampoline(int32_t token, void *user) noexcept
    {
        auto *cb = static_cast<callbacks *>(user);
        return cb->err.guard([&] { return (*cb->on_token)(token) ? 0 : 1; });
    }
    // Runs a C call, rethrowing an exception a callback raised during it.
    template <class Call>
    void run(Call call)
    {
        if (!cb_) detail::check(call());  // moved-from: the C API reports the NULL handle
        else cb_->err.finish(call());
    }
    template <class Call>
    std::vector<int32_t> generate_impl(const generate_options &o, Call call)
    {
        frz_generate_params gp = detail::init_params(frz_generate_params_init_size);
        gp.max_tokens = o.max_tokens;
        gp.temperature = o.temperature;
        gp.top_k = o.top_k;
        gp.top_p = o.top_p;
        gp.stop_at_eot = o.stop_at_eot ? 1 : 0;
        std::vector<const char *> stops;
        for (const std::string &s : o.stop) stops.push_back(s.c_str());
        gp.stop = stops.empty() ? nullptr : stops.data();
        gp.n_stop = stops.size();
        if (o.on_token && cb_) {
            cb_->on_token = const_cast<std::function<bool(int32_t)> *>(&o.on_token);
            gp.on_token = token_trampoline;
            gp.on_token_data = cb_.get();
        }
        std::vector<int32_t> out(static_cast<size_t>(o.max_tokens > 0 ? o.max_tokens : 0) + 1);
        size_t n = 0;
        run([&] { return call(&gp, out.data(), out.size(), &n); });
        if (cb_) cb_->on_token = nullptr;
        out.resize(n);
        return out;
    }
    // Declared before the handle, so destroyed after it: the C session never outlives the state it points to.
    std::unique_ptr<callbacks> cb_;
    detail::handle<frz_session, frz_session_free> h_;
    int64_t n_vocab_ = 0, n_embd_ = 0;
};

// ---- training ----------------------------------------------------------------------------------------------------

using train_progress = frz_train_progress;

// Training settings; the defaults are the library's (frz_train_params_init, the paper's). See frozen.h.
struct train_options {
    std::string vision_arch;
    float vision_width;
    int32_t image_size, prefix_tokens, batch_size, micro_batch;
    float lr, beta1, beta2, adam_eps, weight_decay, grad_clip;
    int32_t epochs;
    int64_t max_steps;
    float val_fraction;
    int32_t val_every, patience, max_caption_tokens, checkpoint_every;
    bool blind, resume;
    uint64_t seed;
    int32_t n_threads;
    std::string image_dir;  // empty: the data file's folder
    frz_train_lm_mode lm_mode;  // FRZ_TRAIN_LM_FROZEN (Frozen), _FINETUNE or _SCRATCH (the paper's baselines)
    float lm_lr;                // the LM's learning rate; 0: 1e-5 when finetuning, lr from scratch
    float lr_decay;             // share of the steps, at the end, over which the rates fall towards 0; 0: constant
    // After every step, on the thread running run().
    std::function<void(const train_progress &)> progress;
    // Return true to stop: run() writes a checkpoint of the last completed step and throws FRZ_ERR_CANCELLED.
    std::function<bool()> abort;

    train_options()
    {
        const frz_train_params d = detail::init_params(frz_train_params_init_size);
        vision_arch = d.vision_arch ? d.vision_arch : "";
        vision_width = d.vision_width;
        image_size = d.image_size;
        prefix_tokens = d.prefix_tokens;
        batch_size = d.batch_size;
        micro_batch = d.micro_batch;
        lr = d.lr;
        beta1 = d.beta1;
        beta2 = d.beta2;
        adam_eps = d.adam_eps;
        weight_decay = d.weight_decay;
        grad_clip = d.grad_clip;
        epochs = d.epochs;
        max_steps = d.max_steps;
        val_fraction = d.val_fraction;
        val_every = d.val_every;
        patience = d.patience;
        max_caption_tokens = d.max_caption_tokens;
        checkpoint_every = d.checkpoint_every;
        blind = d.blind != 0;
        resume = d.resume != 0;
        seed = d.seed;
        n_threads = d.n_threads;
        lm_mode = static_cast<frz_train_lm_mode>(d.lm_mode);
        lm_lr = d.lm_lr;
        lr_decay = d.lr_decay;
    }
};

// A training run writing to out_dir (see frozen.h: vision.safetensors, projector.safetensors, checkpoint, ...).
// run() trains to the end (epochs, max_steps or early stopping); an abort writes a checkpoint of the last
// completed step first. progress() is the latest step's numbers.
class trainer : public detail::run_handle<frz_train, frz_train_free, frz_train_run, frz_train_progress,
                                          frz_train_get_progress, train_options> {
public:
    trainer() = default;
    trainer(const lm &model, const std::string &data_path, const std::string &out_dir, train_options o = {})
    {
        start(std::move(o), params, [&](const frz_train_params *p, frz_train **out) {
            return frz_train_create(model.get(), data_path.c_str(), out_dir.c_str(), p, out);
        });
    }

private:
    static frz_train_params params(const train_options &t)
    {
        frz_train_params p = detail::init_params(frz_train_params_init_size);
        p.vision_arch = t.vision_arch.c_str();
        p.vision_width = t.vision_width;
        p.image_size = t.image_size;
        p.prefix_tokens = t.prefix_tokens;
        p.batch_size = t.batch_size;
        p.micro_batch = t.micro_batch;
        p.lr = t.lr;
        p.beta1 = t.beta1;
        p.beta2 = t.beta2;
        p.adam_eps = t.adam_eps;
        p.weight_decay = t.weight_decay;
        p.grad_clip = t.grad_clip;
        p.epochs = t.epochs;
        p.max_steps = t.max_steps;
        p.val_fraction = t.val_fraction;
        p.val_every = t.val_every;
        p.patience = t.patience;
        p.max_caption_tokens = t.max_caption_tokens;
        p.checkpoint_every = t.checkpoint_every;
        p.blind = t.blind ? 1 : 0;
        p.resume = t.resume ? 1 : 0;
        p.seed = t.seed;
        p.n_threads = t.n_threads;
        p.image_dir = t.image_dir.empty() ? nullptr : t.image_dir.c_str();
        p.lm_mode = static_cast<int32_t>(t.lm_mode);
        p.lm_lr = t.lm_lr;
        p.lr_decay = t.lr_decay;
        return p;
    }
};

// ---- training a tokenizer ------------------------------------------------------------------------------------------

using tokenizer_train_stats = frz_tokenizer_train_stats;

// Tokenizer training settings; the defaults are the library's (frz_tokenizer_train_params_init).
struct tokenizer_train_options {
    int32_t vocab_size;     // entries in vocab.json, <|endoftext|> included; >= 257 (default 50257)
    int32_t min_frequency;  // a pair seen fewer times is never merged (default 2)
    int32_t n_threads;
    bool tab_segments;      // TABs and line ends separate segments (the layout of pretrain's tab_segments)
    // Return true to stop: tokenizer_train throws FRZ_ERR_CANCELLED and writes nothing.
    std::function<bool()> abort;

    tokenizer_train_options()
    {
        const frz_tokenizer_train_params d = detail::init_params(frz_tokenizer_train_params_init_size);
        vocab_size = d.vocab_size;
        min_frequency = d.min_frequency;
        n_threads = d.n_threads;
        tab_segments = d.tab_segments != 0;
    }
};

// Trains a byte-level BPE tokenizer (GPT-2's format) on a text file; writes out_dir/vocab.json and
// out_dir/merges.txt (out_dir is created if missing) and returns what the run did. See frz_tokenizer_train.
inline tokenizer_train_stats tokenizer_train(const std::string &corpus_path, const std::string &out_dir,
                                             const tokenizer_train_options &o = tokenizer_train_options())
{
    frz_tokenizer_train_params p = detail::init_params(frz_tokenizer_train_params_init_size);
    p.vocab_size = o.vocab_size;
    p.min_frequency = o.min_frequency;
    p.n_threads = o.n_threads;
    p.tab_segments = o.tab_segments ? 1 : 0;
    struct context {
        const std::function<bool()> &abort;
        detail::callback_error err;
    } ctx{o.abort, {}};
    if (o.abort) {
        p.abort = [](void *user) noexcept -> int {
            auto *c = static_cast<context *>(user);
            return c->err.guard([&] { return c->abort() ? 1 : 0; });
        };
        p.abort_data = &ctx;
    }
    tokenizer_train_stats stats{};
    stats.struct_size = sizeof stats;
    ctx.err.finish(frz_tokenizer_train(corpus_path.c_str(), out_dir.c_str(), &p, &stats));
    return stats;
}

// ---- pretraining a language model --------------------------------------------------------------------------------

using pretrain_progress = frz_pretrain_progress;

// Pretraining settings; the defaults are the library's (frz_pretrain_params_init). See frozen.h.
struct pretrain_options {
    int64_t steps;
    int32_t batch_size;
    int32_t context;  // most targets per sample; 0: the model's n_ctx
    float lr;
    int32_t warmup;
    float min_lr_ratio, beta1, beta2, adam_eps, weight_decay, grad_clip, val_fraction;
    int32_t val_every, checkpoint_every;
    bool tab_segments, no_shuffle;
    uint64_t seed;
    int32_t n_threads;
    bool resume;  // continue the interrupted run in out_dir from its checkpoint (model: lm(out_dir))
    // After every step, on the thread running run().
    std::function<void(const pretrain_progress &)> progress;
    // Return true to stop: run() saves the model as it is after the last completed step to out_dir and throws
    // FRZ_ERR_CANCELLED.
    std::function<bool()> abort;

    pretrain_options()
    {
        const frz_pretrain_params d = detail::init_params(frz_pretrain_params_init_size);
        steps = d.steps;
        batch_size = d.batch_size;
        context = d.context;
        lr = d.lr;
        warmup = d.warmup;
        min_lr_ratio = d.min_lr_ratio;
        beta1 = d.beta1;
        beta2 = d.beta2;
        adam_eps = d.adam_eps;
        weight_decay = d.weight_decay;
        grad_clip = d.grad_clip;
        val_fraction = d.val_fraction;
        val_every = d.val_every;
        checkpoint_every = d.checkpoint_every;
        tab_segments = d.tab_segments != 0;
        no_shuffle = d.no_shuffle != 0;
        seed = d.seed;
        n_threads = d.n_threads;
        resume = d.resume != 0;
    }
};

// Pretraining (next-token prediction) of model's weights on a corpus of one sample per line, writing out_dir
// (the model as a folder lm(out_dir) loads, metrics.csv, loss.png). The model is trained in place: it must
// outlive the pretrainer, and no session may use it while run() runs. One thread at a time. run() trains for the
// planned steps and saves the model; an abort saves the model as it is after the last completed step first.
class pretrainer : public detail::run_handle<frz_pretrain, frz_pretrain_free, frz_pretrain_run, frz_pretrain_progress,
                                             frz_pretrain_get_progress, pretrain_options> {
public:
    pretrainer() = default;
    pretrainer(lm &model, const std::string &corpus_path, const std::string &out_dir,
               pretrain_options o = pretrain_options())
    {
        start(std::move(o), params, [&](const frz_pretrain_params *p, frz_pretrain **out) {
            return frz_pretrain_create(model.get(), corpus_path.c_str(), out_dir.c_str(), p, out);
        });
    }

private:
    static frz_pretrain_params params(const pretrain_options &t)
    {
        frz_pretrain_params p = detail::init_params(frz_pretrain_params_init_size);
        p.steps = t.steps;
        p.batch_size = t.batch_size;
        p.context = t.context;
        p.lr = t.lr;
        p.warmup = t.warmup;
        p.min_lr_ratio = t.min_lr_ratio;
        p.beta1 = t.beta1;
        p.beta2 = t.beta2;
        p.adam_eps = t.adam_eps;
        p.weight_decay = t.weight_decay;
        p.grad_clip = t.grad_clip;
        p.val_fraction = t.val_fraction;
        p.val_every = t.val_every;
        p.checkpoint_every = t.checkpoint_every;
        p.tab_segments = t.tab_segments ? 1 : 0;
        p.no_shuffle = t.no_shuffle ? 1 : 0;
        p.seed = t.seed;
        p.n_threads = t.n_threads;
        p.resume = t.resume ? 1 : 0;
        return p;
    }
};

// pretrainer(...).run(): trains model in place and saves it to out_dir.
inline void pretrain(lm &model, const std::string &corpus_path, const std::string &out_dir,
                     pretrain_options o = pretrain_options())
{
    pretrainer(model, corpus_path, out_dir, std::move(o)).run();
}

}  // namespace frozen

#endif  // FROZEN_HPP
