// test_frozen.cpp -- tests of the C++ wrapper (frozen.hpp) on the committed fixture models, against the C API
// and the `frozen` command-line tool. Run from the repository root (tests/cpp_test.sh builds and runs it).
// Environment: FROZEN (default bin/frozen), the CLI the results are compared with.
// Prints "ok NAME" / "FAIL NAME: why" per test and ends with "cpp: N passed, M failed".
#include "frozen.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const std::string FIX = "tests/fixtures/";
const std::string LM_DIR = FIX + "models/gpt2-f32";  // 2 layers, width 48, 457 ids, 64 positions
const std::string IMG_DIR = FIX + "eval/episodes/img/";

std::string cli() { return std::getenv("FROZEN") ? std::getenv("FROZEN") : "bin/frozen"; }

// ---- a minimal harness: a test is a function; a failed expectation throws out of it ----------------------------

struct failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};
int n_passed = 0, n_failed = 0;

#define EXPECT(cond, what)                                                                                    \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            std::ostringstream os_;                                                                           \
            os_ << __LINE__ << ": " << #cond << " -- " << what;                                               \
            throw failure(os_.str());                                                                         \
        }                                                                                                     \
    } while (0)

// Runs f and expects it to throw frozen::error with this status and a message containing part.
template <class F>
void expect_error(F f, frz_status code, const std::string &part, int line)
{
    try {
        f();
    } catch (const frozen::error &e) {
        if (e.status() != code || e.message().find(part) == std::string::npos ||
            std::string(e.what()).rfind(frz_strerror(code), 0) != 0) {
            std::ostringstream os;
            os << line << ": expected status " << code << " with \"" << part << "\", got " << e.status() << " \""
               << e.what() << "\"";
            throw failure(os.str());
        }
        return;
    }
    throw failure(std::to_string(line) + ": expected frozen::error " + std::to_string(code) + ", nothing thrown");
}
#define EXPECT_ERROR(expr, code, part) expect_error([&] { (void)(expr); }, code, part, __LINE__)

template <class F>
void run_test(const char *name, F f)
{
    try {
        f();
        n_passed++;
        std::cout << "ok   " << name << "\n";
    } catch (const std::exception &e) {
        n_failed++;
        std::cout << "FAIL " << name << ": " << e.what() << "\n";
    }
}

// ---- helpers -----------------------------------------------------------------------------------------------------

// Quotes a word for /bin/sh.
std::string sh(const std::string &s)
{
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs a shell command, returns its stdout; fails the test on a non-zero exit.
std::string run_cli(const std::string &args)
{
    const std::string cmd = sh(cli()) + " " + args;
    FILE *p = popen(cmd.c_str(), "r");
    EXPECT(p != nullptr, "popen " << cmd);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = pclose(p);
    EXPECT(rc == 0, cmd << " exited " << rc);
    return out;
}

std::vector<int32_t> parse_ids(const std::string &s)
{
    std::vector<int32_t> ids;
    std::istringstream in(s);
    long v;
    while (in >> v) ids.push_back(static_cast<int32_t>(v));
    return ids;
}

struct temp_dir {
    fs::path path;
    temp_dir()
    {
        std::string t = (fs::temp_directory_path() / "frozen-cpp.XXXXXX").string();
        EXPECT(mkdtemp(t.data()) != nullptr, "mkdtemp");
        path = t;
    }
    ~temp_dir()
    {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string operator/(const std::string &name) const { return (path / name).string(); }
};

std::string read_file(const std::string &path)
{
    std::ifstream f(path, std::ios::binary);
    EXPECT(f.good(), "cannot read " << path);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// A safetensors file's "__metadata__" value for key (the JSON header is read as text: the keys are plain).
std::string safetensors_meta(const std::string &path, const std::string &key)
{
    const std::string data = read_file(path);
    EXPECT(data.size() >= 8, path << " is too short");
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | static_cast<unsigned char>(data[static_cast<size_t>(i)]);
    const std::string header = data.substr(8, static_cast<size_t>(n));
    size_t at = header.find("\"" + key + "\"");
    EXPECT(at != std::string::npos, path << " has no " << key);
    at = header.find('"', header.find(':', at + key.size() + 2));
    return header.substr(at + 1, header.find('"', at + 1) - at - 1);
}

// ---- the language model -----------------------------------------------------------------------------------------

void test_version()
{
    EXPECT(frozen::version_number() == FRZ_VERSION_NUMBER, frozen::version_number());
    EXPECT(frozen::version_string() == FRZ_VERSION_STRING, frozen::version_string());
    EXPECT(!frozen::blas_corename().empty(), "no BLAS core name");
}

void test_properties()
{
    frozen::lm m(LM_DIR);
    EXPECT(m.n_layer() == 2 && m.n_embd() == 48 && m.n_vocab() == 457 && m.n_ctx() == 64,
           m.n_layer() << " " << m.n_embd() << " " << m.n_vocab() << " " << m.n_ctx());
    EXPECT(m.eot_token() == 456, m.eot_token());
    EXPECT(m.get(static_cast<frz_lm_prop>(999)) == -1, "unknown property");
}

void test_tokenize_equals_c_api()
{
    frozen::lm m(LM_DIR);
    const std::vector<std::string> texts = {"Hello, my dog", "Grüße, 世界! naïve café 🙂\nsecond line",
                                            std::string("bad \xff\xfe utf8"), "", "<|endoftext|> and more"};
    for (const std::string &t : texts) {
        for (unsigned flags : {0u, frozen::tokenize_special}) {
            std::vector<int32_t> want(t.size() + 1);
            size_t n = 0;
            EXPECT(frz_tokenize(m.get(), t.c_str(), t.size(), flags, want.data(), want.size(), &n) == FRZ_OK, t);
            want.resize(n);
            const std::vector<int32_t> got = m.tokenize(t, flags);
            EXPECT(got == want, "tokens of \"" << t << "\" differ from frz_tokenize");
            EXPECT(m.detokenize(got) == t, "round trip of \"" << t << "\"");
        }
    }
    EXPECT(m.tokenize("<|endoftext|>", frozen::tokenize_special) == std::vector<int32_t>{456}, "special token");
    EXPECT(m.tokenize("<|endoftext|>").size() > 1, "special text is plain text by default");
    // The CLI agrees as well.
    EXPECT(m.tokenize("Hello, my dog") == parse_ids(run_cli("tokenize --lm " + sh(LM_DIR) + " 'Hello, my dog'")),
           "tokens differ from `frozen tokenize`");
}

void test_generate_equals_cli()
{
    frozen::lm m(LM_DIR);
    frozen::session s(m);
    s.set_threads(1);
    const std::string prompt = "Hello, my dog";
    const std::string base = "generate --lm " + sh(LM_DIR) + " --prompt " + sh(prompt) + " --ids --threads 1 ";

    s.eval(0, m.tokenize(prompt), FRZ_LOGITS_NONE);
    frozen::generate_options g;
    g.max_tokens = 12;
    const std::vector<int32_t> greedy = s.generate(0, g);
    EXPECT(greedy.size() == 12, greedy.size());
    EXPECT(greedy == parse_ids(run_cli(base + "--max-tokens 12")), "greedy ids differ from the CLI's");
    EXPECT(s.seq_len(0) == static_cast<int64_t>(m.tokenize(prompt).size() + 12), s.seq_len(0));

    // Sampling with a seed.
    s.truncate(0);
    s.set_seed(7);
    s.eval(0, m.tokenize(prompt), FRZ_LOGITS_NONE);
    g.temperature = 0.8f;
    g.top_k = 40;
    g.max_tokens = 16;
    const std::vector<int32_t> sampled = s.generate(0, g);
    EXPECT(sampled == parse_ids(run_cli(base + "--max-tokens 16 --temperature 0.8 --top-k 40 --seed 7")),
           "sampled ids differ from the CLI's");
}

void test_generate_streams_and_stops()
{
    frozen::lm m(LM_DIR);
    frozen::session s(m);
    s.eval(0, m.tokenize("Hello, my dog"));
    std::vector<int32_t> seen;
    frozen::generate_options g;
    g.max_tokens = 10;
    g.on_token = [&](int32_t t) {
        seen.push_back(t);
        return seen.size() < 3;  // stop after the third
    };
    const std::vector<int32_t> out = s.generate(0, g);
    EXPECT(out.size() == 3 && out == seen, out.size() << " tokens, " << seen.size() << " seen");

    // A stop string: the text never contains it.
    s.truncate(0);
    s.eval(0, m.tokenize("Hello, my dog"));
    frozen::generate_options all;
    all.max_tokens = 12;
    const std::string full = m.detokenize(s.generate(0, all));
    const std::string stop = full.substr(full.size() / 2, 2);
    s.truncate(0);
    s.eval(0, m.tokenize("Hello, my dog"));
    frozen::generate_options st = all;
    st.stop = {stop};
    const std::string cut = m.detokenize(s.generate(0, st));
    EXPECT(cut.find(stop) == std::string::npos && full.rfind(cut, 0) == 0,
           "\"" << cut << "\" vs \"" << full << "\" stop \"" << stop << "\"");
}

void test_score_equals_cli()
{
    frozen::lm m(LM_DIR);
    frozen::session s(m);
    s.set_threads(1);
    const std::string ctx = "Hello, my", cont = " dog is";
    s.eval(0, m.tokenize(ctx));
    const std::vector<float> logits = s.logits(0).to_vector();  // valid until the next call: copied
    EXPECT(s.logits(1).empty(), "row 1 of a LOGITS_LAST eval does not exist");
    const std::vector<int32_t> ct = m.tokenize(cont);
    const frozen::score_result r = s.score(0, ct);
    EXPECT(r.per_token.size() == ct.size(), r.per_token.size());
    double sum = 0;
    for (float v : r.per_token) sum += v;
    EXPECT(std::fabs(sum - r.total) < 1e-4, sum << " vs " << r.total);
    EXPECT(s.seq_len(0) == static_cast<int64_t>(m.tokenize(ctx).size()), "score keeps the sequence");
    const std::string out =
        run_cli("score --lm " + sh(LM_DIR) + " --context " + sh(ctx) + " --continuation " + sh(cont) + " --threads 1");
    const double want = std::stod(out.substr(0, out.find('\n')));
    EXPECT(std::fabs(r.total - want) < 2e-6, r.total << " vs the CLI's " << want);
    // The context's last logits agree with the score of the first continuation token (log-softmax by hand).
    const std::vector<float> &l = logits;
    EXPECT(l.size() == 457, l.size());
    double mx = l[0], z = 0;
    for (float v : l) mx = std::max(mx, static_cast<double>(v));
    for (float v : l) z += std::exp(v - mx);
    const double lp = l[static_cast<size_t>(ct[0])] - mx - std::log(z);
    EXPECT(std::fabs(lp - r.per_token[0]) < 1e-4, lp << " vs " << r.per_token[0]);
}

// ---- errors --------------------------------------------------------------------------------------------------------

void test_errors_carry_status_and_message()
{
    EXPECT_ERROR(frozen::lm("/nonexistent/model"), FRZ_ERR_IO, "/nonexistent/model");
    frozen::result<frozen::lm> r = frozen::lm::try_load("/nonexistent/model");
    EXPECT(!r && r.status() == FRZ_ERR_IO && r.message().find("/nonexistent/model") != std::string::npos,
           r.message());
    EXPECT_ERROR(r.value(), FRZ_ERR_IO, "/nonexistent/model");
    frozen::result<frozen::lm> good = frozen::lm::try_load(LM_DIR);
    EXPECT(good.ok() && good->n_vocab() == 457, good.message());

    frozen::lm m(LM_DIR);
    EXPECT_ERROR(m.detokenize({1, 99999}), FRZ_ERR_INVALID_ARG, "");
    frozen::session s(m);
    EXPECT_ERROR(s.set_threads(0), FRZ_ERR_INVALID_ARG, "");
    EXPECT_ERROR(s.generate(0), FRZ_ERR_INVALID_ARG, "");  // an empty sequence cannot be continued
    std::vector<int32_t> many(65, 11);
    EXPECT_ERROR(s.eval(0, many), FRZ_ERR_CONTEXT_FULL, "");
    EXPECT_ERROR(s.eval_embeddings(0, std::vector<float>(47)), FRZ_ERR_SHAPE, "47 floats");
    EXPECT_ERROR(frozen::image::load_file(FIX + "nope.png"), FRZ_ERR_IO, "nope.png");
    const std::string junk = "not an image at all";
    EXPECT_ERROR(frozen::image::load_memory(frozen::view<uint8_t>(reinterpret_cast<const uint8_t *>(junk.data()),
                                                                  junk.size()),
                                            "junk-bytes"),
                 FRZ_ERR_FORMAT, "junk-bytes");
    EXPECT_ERROR(frozen::vision::create("resnet9000", 1, 224, 0), FRZ_ERR_INVALID_ARG, "");

    auto a = frozen::attempt([&] { return m.tokenize("x"); });
    EXPECT(a.ok() && a.value().size() == 1, a.message());
    auto b = frozen::attempt([&] { s.set_threads(-3); });
    EXPECT(!b && b.status() == FRZ_ERR_INVALID_ARG, b.status());
}

void test_moved_from_handles_are_safe()
{
    frozen::lm a(LM_DIR);
    frozen::lm b = std::move(a);
    EXPECT(!a && b, "moved");
    EXPECT(a.n_vocab() == -1, a.n_vocab());
    EXPECT_ERROR(a.tokenize("x"), FRZ_ERR_INVALID_ARG, "");
    EXPECT(b.tokenize("x").size() == 1, "the new owner works");

    frozen::session s(b);
    s.eval(0, b.tokenize("Hello"));
    frozen::session t = std::move(s);
    EXPECT(!s && s.seq_len(0) == -1 && s.logits(0).empty(), "moved-from session");
    EXPECT_ERROR(s.generate(0), FRZ_ERR_INVALID_ARG, "");
    EXPECT_ERROR(s.eval(0, b.tokenize("Hello")), FRZ_ERR_INVALID_ARG, "");
    s.set_abort([] { return true; });  // no handle: nothing to set, no crash
    frozen::generate_options g;
    g.max_tokens = 2;
    EXPECT(t.generate(0, g).size() == 2, "the moved-to session keeps its sequence");

    // Move-assignment frees the old handle (ASan would see a leak or double free) and takes the new one.
    frozen::session u(b);
    u = std::move(t);
    EXPECT(u.seq_len(0) == static_cast<int64_t>(b.tokenize("Hello").size()) + 2, u.seq_len(0));

    frozen::prompt p(b);
    p.add_text("Hi");
    frozen::prompt q = std::move(p);
    EXPECT(p.size() == 0 && q.size() == b.tokenize("Hi").size(), p.size() << " " << q.size());
    EXPECT_ERROR(p.add_text("x"), FRZ_ERR_INVALID_ARG, "");
    frozen::image im;
    EXPECT(im.width() == 0 && im.pixels().empty(), "empty image");
}

// ---- callbacks: abort, log -----------------------------------------------------------------------------------------

void test_abort_callback()
{
    frozen::lm m(LM_DIR);
    frozen::session s(m);
    int polls = 0;
    s.set_abort([&] { return ++polls >= 1; });
    EXPECT_ERROR(s.eval(0, m.tokenize("Hello, my dog")), FRZ_ERR_CANCELLED, "");
    EXPECT(polls >= 1 && s.seq_len(0) == 0, "a cancelled eval leaves the sequence unchanged: " << s.seq_len(0));

    // Abort during generation: the tokens passed to on_token are what the sequence holds.
    s.set_abort(nullptr);
    s.eval(0, m.tokenize("Hello, my dog"));
    const int64_t before = s.seq_len(0);
    int tokens = 0;
    s.set_abort([&] { return tokens >= 4; });
    frozen::generate_options g;
    g.max_tokens = 20;
    g.on_token = [&](int32_t) {
        tokens++;
        return true;
    };
    EXPECT_ERROR(s.generate(0, g), FRZ_ERR_CANCELLED, "");
    EXPECT(s.seq_len(0) == before + tokens && tokens == 4, s.seq_len(0) << " " << before << " " << tokens);

    // An exception thrown by the callback comes out of the call, not a C status.
    s.set_abort([] () -> bool { throw std::logic_error("from the abort callback"); });
    bool caught = false;
    try {
        s.eval(0, m.tokenize(" and"));
    } catch (const std::logic_error &e) {
        caught = std::string(e.what()) == "from the abort callback";
    }
    EXPECT(caught, "the callback's exception");
    s.set_abort({});
    s.eval(0, m.tokenize(" and"));  // usable again
    g.on_token = [](int32_t) -> bool { throw std::out_of_range("from on_token"); };
    caught = false;
    try {
        s.generate(0, g);
    } catch (const std::out_of_range &) {
        caught = true;
    }
    EXPECT(caught, "on_token's exception");
}

void test_log_callback()
{
    std::vector<std::string> lines;
    frozen::set_log_callback([&](frz_log_level level, std::string_view text) {
        if (level <= FRZ_LOG_DEBUG) lines.emplace_back(text);
    }, FRZ_LOG_DEBUG);
    { frozen::lm m(LM_DIR); }
    const size_t n = lines.size();
    frozen::set_log_callback(nullptr);
    { frozen::lm m(LM_DIR); }
    EXPECT(n > 0, "loading a model logs at least one line");
    EXPECT(lines.size() == n, "silenced: " << lines.size() << " vs " << n);
    bool names_dir = false;
    for (const std::string &l : lines) names_dir |= l.find("gpt2-f32") != std::string::npos;
    EXPECT(names_dir, "a line names the model folder, e.g. \"" << lines[0] << "\"");
}

// ---- images, vision, prompts -----------------------------------------------------------------------------------

void test_image_vision_projector()
{
    const frozen::image img = frozen::image::load_file(FIX + "images/png_rgb8.png");
    EXPECT(img.width() == 13 && img.height() == 9, img.width() << "x" << img.height());
    const std::string want = read_file(FIX + "images/png_rgb8.rgb");
    const frozen::view<uint8_t> px = img.pixels();
    EXPECT(std::string(reinterpret_cast<const char *>(px.data()), px.size()) == want, "pixels differ from the .rgb");
    const frozen::image copy = frozen::image::from_rgb8(px, 13, 9);
    EXPECT(copy.width() == 13 && std::equal(px.begin(), px.end(), copy.pixels().begin()), "from_rgb8 copy");
    const std::string bytes = read_file(IMG_DIR + "dax1.jpg");
    const frozen::image mem = frozen::image::load_memory(
        frozen::view<uint8_t>(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size()), "dax1");
    EXPECT(mem.width() > 0, "memory decode");

    const frozen::vision v = frozen::vision::create("tiny", 0.0625f, 32, 7);
    const frozen::projector p = frozen::projector::create(static_cast<int32_t>(v.n_features()), 2, 48, 9);
    EXPECT(v.image_size() == 32 && p.n_prefix() == 2 && p.n_embd() == 48 && p.n_features() == v.n_features(), "");
    const std::vector<float> pooled = v.encode(mem);
    EXPECT(pooled.size() == static_cast<size_t>(v.n_features()), pooled.size());
    const std::vector<float> embd = p.apply(pooled);
    const std::vector<float> prefix = frozen::image_prefix(v, p, mem);
    EXPECT(embd.size() == 96 && prefix == embd, "image_prefix = apply(encode)");
    EXPECT_ERROR(p.apply(std::vector<float>(3)), FRZ_ERR_SHAPE, "3 floats");

    // Save and load: the same prefix.
    temp_dir d;
    v.save(d / "vision.safetensors");
    p.save(d / "projector.safetensors");
    const frozen::vision v2 = frozen::vision::load(d / "vision.safetensors");
    const frozen::projector p2 = frozen::projector::load(d / "projector.safetensors");
    EXPECT(frozen::image_prefix(v2, p2, mem) == prefix, "saved and loaded models differ");
}

void test_prompt_with_images()
{
    frozen::lm m(LM_DIR);
    const frozen::vision v = frozen::vision::create("tiny", 0.0625f, 32, 7);
    const frozen::projector p = frozen::projector::create(static_cast<int32_t>(v.n_features()), 2, 48, 9);
    const frozen::image dax = frozen::image::load_file(IMG_DIR + "dax1.jpg");
    const frozen::image query = frozen::image::load_file(IMG_DIR + "query1.jpg");

    frozen::prompt pr(m, v, p);
    pr.add_image(dax).add_text("This is a dax.").add_image_file(IMG_DIR + "query1.jpg").add_text(" Q: What is this? A:");
    const std::vector<int32_t> t1 = m.tokenize("This is a dax."), t2 = m.tokenize(" Q: What is this? A:");
    const std::vector<int32_t> toks = pr.tokens();
    EXPECT(toks.size() == pr.size() && pr.size() == 4 + t1.size() + t2.size(), toks.size());
    EXPECT(toks[0] == FRZ_TOKEN_EMBEDDING && toks[1] == FRZ_TOKEN_EMBEDDING && toks[2] == t1[0], "layout");
    const std::vector<frozen::prompt_segment> seg = pr.segments();
    EXPECT(seg.size() == 4 && seg[0].kind == FRZ_PROMPT_SEG_IMAGE && seg[1].kind == FRZ_PROMPT_SEG_TEXT &&
               seg[2].start == 2 + t1.size() && seg[2].n == 2,
           seg.size());
    const std::vector<float> dp = frozen::image_prefix(v, p, dax), qp = frozen::image_prefix(v, p, query);
    EXPECT(pr.embedding(1).to_vector() == std::vector<float>(dp.begin() + 48, dp.end()), "image embedding");
    EXPECT(pr.embedding(2).empty(), "a token position has no embedding");

    // The prompt run equals the same positions given to the raw batched eval in one call.
    std::vector<float> embd(toks.size() * 48, 0.0f);
    std::copy(dp.begin(), dp.end(), embd.begin());
    std::copy(qp.begin(), qp.end(), embd.begin() + static_cast<long>(seg[2].start * 48));
    frozen::session s(m);
    s.set_max_seqs(2);
    const frz_input in = {1, toks.size(), toks.data(), embd.data()};
    s.eval({in}, FRZ_LOGITS_NONE);
    frozen::generate_options g;
    g.max_tokens = 8;
    g.stop_at_eot = false;
    const std::vector<int32_t> raw = s.generate(1, g);
    const std::vector<int32_t> via = s.generate(0, pr, g);
    EXPECT(raw == via && raw.size() == 8, "prompt generate vs raw eval");

    // Scoring candidates: each equals frz_score of its tokens after the prompt.
    s.truncate(-1);
    const std::vector<double> sc = s.score(0, pr, {" dax", " blicket", ""});
    EXPECT(sc.size() == 3 && sc[2] == 0.0 && sc[0] < 0 && sc[1] < 0, sc.size());
    EXPECT(s.seq_len(0) == static_cast<int64_t>(pr.size()), "the slot keeps the prompt");
    EXPECT(std::fabs(s.score(0, m.tokenize(" blicket")).total - sc[1]) < 1e-5, "score vs frz_score");

    // Prompt caching: a fork of the evaluated support gives what a fresh evaluation gives.
    frozen::prompt support(m, v, p), q(m, v, p);
    support.add_image(dax).add_text("This is a dax.");
    q.add_image(query).add_text(" Q: What is this? A:");
    s.truncate(-1);
    s.eval(0, support, FRZ_LOGITS_NONE);
    s.copy(0, 1);
    const std::vector<int32_t> forked = s.generate(1, q, g);
    s.truncate(0, 0);
    s.eval(0, support, FRZ_LOGITS_NONE);
    EXPECT(s.generate(0, q, g) == forked, "fork vs fresh");

    // Without an encoder an image needs one given with it.
    frozen::prompt plain(m);
    EXPECT_ERROR(plain.add_image(dax), FRZ_ERR_INVALID_ARG, "");
    plain.add_image(dax, v, p).add_embeddings(std::vector<float>(96, 0.5f));
    EXPECT(plain.size() == 4 && plain.embedding(3)[0] == 0.5f, plain.size());
    EXPECT_ERROR(plain.add_embeddings(std::vector<float>(50)), FRZ_ERR_SHAPE, "50 floats");
    std::vector<float> long_embd(64 * 48);
    EXPECT_ERROR(plain.add_embeddings(long_embd), FRZ_ERR_CONTEXT_FULL, "");
}

void test_caption_equals_cli()
{
    frozen::lm m(LM_DIR);
    const frozen::vision v = frozen::vision::create("tiny", 0.0625f, 32, 3);
    const frozen::projector p = frozen::projector::create(static_cast<int32_t>(v.n_features()), 2, 48, 5);
    temp_dir d;
    v.save(d / "vision.safetensors");
    p.save(d / "projector.safetensors");
    frozen::session s(m);
    s.set_threads(1);
    const std::string img = IMG_DIR + "blicket1.jpg";
    std::string mine = s.caption(0, v, p, frozen::image::load_file(img), 12);
    const std::string out = run_cli("caption --lm " + sh(LM_DIR) + " --model " + sh(d.path.string()) +
                                    " --max-tokens 12 --threads 1 " + sh(img));
    // The CLI prints IMAGE TAB caption, with tabs and line breaks inside the caption as spaces.
    for (char &c : mine)
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
    EXPECT(out == img + "\t" + mine + "\n", "\"" << out << "\" vs \"" << mine << "\"");
    EXPECT(!mine.empty(), "an empty caption proves little");
}

// ---- training ----------------------------------------------------------------------------------------------------

// A TSV of eight fixture images (absolute paths) and captions.
std::string make_data(const temp_dir &d)
{
    const char *rows[][2] = {{"eval/episodes/img/dax1.jpg", "a dax"},
                             {"eval/episodes/img/dax2.jpg", "another dax"},
                             {"eval/episodes/img/blicket1.jpg", "a blicket"},
                             {"eval/episodes/img/blicket2.jpg", "a blue blicket"},
                             {"eval/episodes/img/query1.jpg", "a question"},
                             {"eval/episodes/img/query2.jpg", "one more question"},
                             {"images/png_rgb8.png", "small colours"},
                             {"images/jpeg_gray.jpg", "a grey picture"}};
    std::ofstream f(d / "data.tsv");
    for (const auto &r : rows) f << fs::absolute(FIX + r[0]).string() << "\t" << r[1] << "\n";
    return d / "data.tsv";
}

frozen::train_options small_options()
{
    frozen::train_options o;
    o.vision_arch = "tiny";
    o.vision_width = 0.0625f;
    o.image_size = 24;
    o.batch_size = 3;
    o.lr = 1e-3f;
    o.n_threads = 1;
    o.seed = 7;
    o.max_steps = 4;
    o.val_fraction = 0.25f;
    o.val_every = 2;
    o.patience = 0;
    return o;
}

void test_train_abort_keeps_checkpoint()
{
    frozen::lm m(LM_DIR);
    temp_dir d;
    const std::string data = make_data(d);
    fs::create_directory(d.path / "ref");

    // Uninterrupted reference run.
    std::vector<float> ref_loss(5, 0);
    frozen::train_options o = small_options();
    size_t progress_size = 0;
    o.progress = [&](const frozen::train_progress &p) {
        progress_size = p.struct_size;
        ref_loss.at(static_cast<size_t>(p.step)) = p.loss;
    };
    {
        frozen::trainer t(m, data, d / "ref", o);
        t.run();
        EXPECT(t.progress().step == 4 && t.progress().total_steps == 4, t.progress().step);
    }
    EXPECT(progress_size == sizeof(frozen::train_progress), progress_size);
    EXPECT(fs::exists(d / "ref/vision.safetensors") && fs::exists(d / "ref/projector.safetensors"), "run folder");

    // Aborted after step 2: FRZ_ERR_CANCELLED, a checkpoint of step 2.
    int64_t last = 0;
    o.progress = [&](const frozen::train_progress &p) { last = p.step; };
    o.abort = [&] { return last >= 2; };
    {
        frozen::trainer t(m, data, d / "run", o);
        EXPECT_ERROR(t.run(), FRZ_ERR_CANCELLED, "");
        EXPECT(t.progress().step == 2, t.progress().step);
    }
    EXPECT(safetensors_meta(d / "run/checkpoint.safetensors", "frozen.train.step") == "2",
           safetensors_meta(d / "run/checkpoint.safetensors", "frozen.train.step"));

    // Resumed: steps 3 and 4 with the uninterrupted run's losses, bit for bit.
    std::vector<float> loss(5, 0);
    int64_t first = 0;
    o.resume = true;
    o.abort = nullptr;
    o.progress = [&](const frozen::train_progress &p) {
        if (!first) first = p.step;
        loss.at(static_cast<size_t>(p.step)) = p.loss;
    };
    frozen::trainer(m, data, d / "run", o).run();
    EXPECT(first == 3, first);
    EXPECT(loss[3] == ref_loss[3] && loss[4] == ref_loss[4] && loss[4] != 0,
           loss[3] << " " << ref_loss[3] << " " << loss[4] << " " << ref_loss[4]);
    EXPECT(read_file(d / "run/vision.safetensors") == read_file(d / "ref/vision.safetensors"), "final encoder");

    // An exception from the progress callback stops the run and comes out of run().
    frozen::train_options bad = small_options();
    bad.progress = [](const frozen::train_progress &) { throw std::runtime_error("progress failed"); };
    frozen::trainer t(m, data, d / "bad", bad);
    bool caught = false;
    try {
        t.run();
    } catch (const std::runtime_error &e) {
        caught = std::string(e.what()) == "progress failed";
    }
    EXPECT(caught && t.progress().step == 1, t.progress().step);

    // Bad settings are errors naming the setting.
    frozen::train_options wrong = small_options();
    wrong.batch_size = 3;
    wrong.micro_batch = 2;
    EXPECT_ERROR(frozen::trainer(m, data, d / "wrong", wrong), FRZ_ERR_INVALID_ARG, "micro");
    wrong = small_options();
    wrong.lr_decay = 1.5f; // the field appended last reaches the library
    EXPECT_ERROR(frozen::trainer(m, data, d / "wrong", wrong), FRZ_ERR_INVALID_ARG, "lr_decay");
    EXPECT_ERROR(frozen::trainer(m, d / "missing.tsv", d / "x", small_options()), FRZ_ERR_IO, "missing.tsv");
}

// ---- training a tokenizer, random models, pretraining ----------------------------------------------------------

// The CLI test's tokenizer corpus: 40 samples with a TAB, each followed by three newlines.
std::string make_tokenizer_corpus(const temp_dir &d)
{
    std::ofstream f(d / "tok-corpus.txt", std::ios::binary);
    for (int i = 0; i < 40; i++)
        f << "a small red circle on the left\tQuestion: What colour is the shape? Answer: red " << i << "\n\n\n";
    return d / "tok-corpus.txt";
}

// 64 samples, four facts: after a fact's first word the rest is determined.
std::string make_fact_corpus(const temp_dir &d)
{
    const char *facts[] = {"red apples grow on trees", "yellow bananas are long", "green limes taste sour",
                           "purple grapes make wine"};
    std::ofstream f(d / "facts.txt", std::ios::binary);
    for (int i = 0; i < 64; i++) f << facts[(i * 7 + i / 3) % 4] << "\n";
    return d / "facts.txt";
}

// Every position's logits for ids on a fresh session.
std::vector<std::vector<float>> all_logits(const frozen::lm &m, const std::vector<int32_t> &ids)
{
    frozen::session s(m);
    s.set_threads(1);
    s.eval(0, ids, FRZ_LOGITS_ALL);
    std::vector<std::vector<float>> rows;
    for (size_t r = 0; r < ids.size(); r++) rows.push_back(s.logits(r).to_vector());
    return rows;
}

void test_tokenizer_train_equals_cli()
{
    temp_dir d;
    const std::string corpus = make_tokenizer_corpus(d);
    for (bool segments : {false, true}) {
        const std::string mine = d / (segments ? "cpp-seg" : "cpp"), cli_out = d / (segments ? "cli-seg" : "cli");
        frozen::tokenizer_train_options o;
        o.vocab_size = 300;
        o.n_threads = 1;
        o.tab_segments = segments;
        const frozen::tokenizer_train_stats st = frozen::tokenizer_train(corpus, mine, o);
        run_cli("tokenizer-train --data " + sh(corpus) + " --out " + sh(cli_out) + " --vocab-size 300 --threads 1" +
                (segments ? " --tab-segments" : ""));
        for (const char *f : {"/vocab.json", "/merges.txt"})
            EXPECT(read_file(mine + f) == read_file(cli_out + f), f << (segments ? " with tab_segments" : ""));
        const std::string merges = read_file(mine + "/merges.txt");
        const long lines = static_cast<long>(std::count(merges.begin(), merges.end(), '\n'));
        EXPECT(st.n_merges == lines - 1 && st.n_bytes == static_cast<int64_t>(fs::file_size(corpus)),
               st.n_merges << " merges, " << lines << " lines");
        if (!segments) EXPECT(st.n_vocab == 300 && st.n_merges == 43, st.n_vocab << " " << st.n_merges);
    }
    // tab_segments changes the files, so the comparison above can tell the option was passed
    EXPECT(read_file(d / "cpp/merges.txt") != read_file(d / "cpp-seg/merges.txt"), "tab_segments ignored");

    frozen::tokenizer_train_options bad;
    bad.vocab_size = 256;
    EXPECT_ERROR(frozen::tokenizer_train(corpus, d / "x", bad), FRZ_ERR_INVALID_ARG, "vocab_size");
    EXPECT_ERROR(frozen::tokenizer_train(d / "missing.txt", d / "x"), FRZ_ERR_IO, "missing.txt");
    frozen::tokenizer_train_options stop;
    stop.vocab_size = 300;
    int polls = 0;
    stop.abort = [&] { return ++polls > 0; };
    EXPECT_ERROR(frozen::tokenizer_train(corpus, d / "x", stop), FRZ_ERR_CANCELLED, "");
    EXPECT(polls > 0 && !fs::exists(d / "x/vocab.json"), "aborted: nothing written");
    stop.abort = []() -> bool { throw std::logic_error("abort failed"); };
    bool caught = false;
    try {
        frozen::tokenizer_train(corpus, d / "x", stop);
    } catch (const std::logic_error &e) {
        caught = std::string(e.what()) == "abort failed";
    }
    EXPECT(caught && !fs::exists(d / "x/vocab.json"), "a throwing abort callback");
}

void test_random_lm_save_and_load()
{
    temp_dir d;
    frozen::tokenizer_train_options t;
    t.vocab_size = 300;
    frozen::tokenizer_train(make_tokenizer_corpus(d), d / "tok", t);
    frozen::lm_config c;
    EXPECT(c.n_layer == 4 && c.n_head == 4 && c.n_embd == 128 && c.n_ctx == 256 && c.n_inner == 0 &&
               c.untied_head == 0,
           "defaults");
    c.n_layer = 2, c.n_head = 2, c.n_embd = 16, c.n_ctx = 32;
    const std::vector<int32_t> ids = {5, 77, 120, 299, 3, 42};
    std::vector<std::vector<float>> before;
    {
        const frozen::lm m = frozen::lm::create_random(d / "tok", c, 5);
        EXPECT(m.n_layer() == 2 && m.n_head() == 2 && m.n_embd() == 16 && m.n_ctx() == 32 && m.n_vocab() == 300 &&
                   m.eot_token() == 299,
               m.n_vocab());
        before = all_logits(m, ids);
        m.save(d / "m");
    }
    EXPECT(all_logits(frozen::lm(d / "m"), ids) == before, "the saved model's logits differ");
    EXPECT(read_file(d / "m/vocab.json") == read_file(d / "tok/vocab.json"), "vocab.json copied");
    EXPECT(all_logits(frozen::lm::create_random(d / "tok", c, 5), ids) == before, "same seed");
    EXPECT(all_logits(frozen::lm::create_random(d / "tok", c, 6), ids) != before, "another seed");
    c.n_head = 3;
    EXPECT_ERROR(frozen::lm::create_random(d / "tok", c), FRZ_ERR_INVALID_ARG, "n_head");
    EXPECT_ERROR(frozen::lm().save(d / "none"), FRZ_ERR_INVALID_ARG, "");
}

frozen::lm tiny_lm()
{
    frozen::lm_config c;
    c.n_layer = 1, c.n_head = 2, c.n_embd = 16, c.n_ctx = 16;
    return frozen::lm::create_random(LM_DIR, c, 5);  // the fixture's tokenizer: 457 ids
}

frozen::pretrain_options tiny_pretrain()
{
    frozen::pretrain_options o;
    o.steps = 20;
    o.batch_size = 8;
    o.lr = 1e-2f;
    o.warmup = 2;
    o.val_fraction = 0.1f;
    o.val_every = 10;
    o.seed = 3;
    o.n_threads = 1;
    return o;
}

void test_pretrain_learns_and_stops()
{
    temp_dir d;
    const std::string corpus = make_fact_corpus(d);
    const std::vector<int32_t> ids = {10, 20, 30};

    // Uninterrupted: every step reported, the loss falls from about ln(457), the folder loads to the same logits.
    frozen::lm m = tiny_lm();
    std::vector<frozen::pretrain_progress> seen;
    frozen::pretrain_options o = tiny_pretrain();
    o.progress = [&](const frozen::pretrain_progress &p) { seen.push_back(p); };
    {
        frozen::pretrainer t(m, corpus, d / "full", o);
        t.run();
        EXPECT(t.progress().step == 20 && t.progress().total_steps == 20, t.progress().step);
    }
    EXPECT(seen.size() == 20, seen.size());
    for (size_t i = 0; i < seen.size(); i++)
        EXPECT(seen[i].step == static_cast<int64_t>(i + 1) && seen[i].struct_size == sizeof seen[i], i);
    EXPECT(std::fabs(seen[0].loss - std::log(457.0f)) < 0.1f, seen[0].loss);
    float first5 = 0, last5 = 0;
    for (size_t i = 0; i < 5; i++) first5 += seen[i].loss / 5, last5 += seen[15 + i].loss / 5;
    EXPECT(last5 < first5 - 1.0f, first5 << " -> " << last5);
    EXPECT(seen.back().n_train + seen.back().n_val == 64 && seen.back().val_loss > 0 &&
               seen.back().val_loss < seen[0].loss,
           seen.back().val_loss);
    const auto trained = all_logits(m, ids);
    EXPECT(all_logits(frozen::lm(d / "full"), ids) == trained, "the saved model is the trained one");
    EXPECT(fs::exists(d / "full/metrics.csv") && fs::exists(d / "full/loss.png"), "metrics and plot");

    // Aborted after step 3: FRZ_ERR_CANCELLED, the same first losses, the model of step 3 saved.
    frozen::lm m2 = tiny_lm();
    std::vector<float> loss;
    o.progress = [&](const frozen::pretrain_progress &p) { loss.push_back(p.loss); };
    o.abort = [&] { return loss.size() >= 3; };
    {
        frozen::pretrainer t(m2, corpus, d / "stopped", o);
        EXPECT_ERROR(t.run(), FRZ_ERR_CANCELLED, "");
        EXPECT(t.progress().step == 3, t.progress().step);
    }
    EXPECT(loss.size() == 3 && loss[0] == seen[0].loss && loss[2] == seen[2].loss, loss.size());
    const auto stopped = all_logits(m2, ids);
    EXPECT(all_logits(frozen::lm(d / "stopped"), ids) == stopped && stopped != trained, "the step-3 model saved");

    // An exception from the progress callback stops the run (saved likewise) and comes out of run().
    frozen::lm m3 = tiny_lm();
    o.abort = nullptr;
    o.progress = [](const frozen::pretrain_progress &p) {
        if (p.step == 2) throw std::runtime_error("progress failed");
    };
    bool caught = false;
    try {
        frozen::pretrain(m3, corpus, d / "thrown", o);
    } catch (const std::runtime_error &e) {
        caught = std::string(e.what()) == "progress failed";
    }
    EXPECT(caught, "the callback's exception");
    EXPECT(all_logits(frozen::lm(d / "thrown"), ids) == all_logits(m3, ids), "saved at the stop");

    // Errors name their cause.
    {
        std::ofstream f(d / "bad.txt", std::ios::binary);
        f << "fine line\nbad \xff byte\n";
    }
    EXPECT_ERROR(frozen::pretrainer(m3, d / "bad.txt", d / "o", tiny_pretrain()), FRZ_ERR_FORMAT, "bad.txt:2");
    frozen::pretrain_options wide = tiny_pretrain();
    wide.context = 17;
    EXPECT_ERROR(frozen::pretrainer(m3, corpus, d / "o", wide), FRZ_ERR_INVALID_ARG, "context");
    EXPECT_ERROR(frozen::pretrainer().run(), FRZ_ERR_INVALID_ARG, "");
}

}  // namespace

int main()
{
    run_test("version", test_version);
    run_test("model properties", test_properties);
    run_test("tokenize equals frz_tokenize and the CLI", test_tokenize_equals_c_api);
    run_test("generate equals `frozen generate --ids`", test_generate_equals_cli);
    run_test("generate streams tokens and stops", test_generate_streams_and_stops);
    run_test("score equals `frozen score`", test_score_equals_cli);
    run_test("errors carry status and message", test_errors_carry_status_and_message);
    run_test("moved-from handles are safe", test_moved_from_handles_are_safe);
    run_test("abort callback", test_abort_callback);
    run_test("log callback", test_log_callback);
    run_test("image, vision, projector", test_image_vision_projector);
    run_test("prompts with images", test_prompt_with_images);
    run_test("caption equals `frozen caption`", test_caption_equals_cli);
    run_test("training: progress, abort, resume", test_train_abort_keeps_checkpoint);
    run_test("tokenizer training equals `frozen tokenizer-train`", test_tokenizer_train_equals_cli);
    run_test("random model: save, load, same logits", test_random_lm_save_and_load);
    run_test("pretraining: loss falls, progress, abort, saved model", test_pretrain_learns_and_stops);
    std::cout << "cpp: " << n_passed << " passed, " << n_failed << " failed" << std::endl;
    return n_failed == 0 ? 0 : 1;
}
