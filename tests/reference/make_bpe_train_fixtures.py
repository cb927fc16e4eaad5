#!/usr/bin/python3
"""make_bpe_train_fixtures.py -- fixtures for tests/check_bpe_train.c, from the plain-Python reference trainer
(bpe_train_ref.py) and the reference encoder (npm gpt-3-encoder). Run from the repository root:

    /usr/bin/python3 tests/reference/make_bpe_train_fixtures.py [GPT3_ENCODER_DIR]

For each case, tests/fixtures/bpe_train/CASE/ gets
    corpus.txt                 a generated corpus (fixed seeds: the same bytes on every run)
    params.json                vocab_size, min_frequency, tab_segments
    vocab.json, merges.txt     what the reference trainer learns from it
    npm_expected.jsonl         (text cases) {"text", "ids"}: texts encoded by gpt-3-encoder with these files
The npm package comes from GPT3_ENCODER_DIR, else /tmp/npmref/node_modules/gpt-3-encoder, else `npm install`.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe_train_ref as ref  # noqa: E402

OUT = "tests/fixtures/bpe_train"

WORDS = ("the of and to in is was for on that with as by at from his her it an are were which this be or had not "
         "but have their one all also its they new after first two been other who time year she more city when "
         "school there world would can people may over game small large circle square triangle diamond star "
         "cross red green blue yellow purple orange white pink left right top bottom middle question answer "
         "colour shape sandal boot shirt coat dress bag sneaker trouser pullover leather summer feet").split()
UNICODE = ["café", "naïve", "Grüße", "Ελλάδα", "Москва", "世界", "日本語", "한국어", "🙂", "👍🏽", "½", "٣٤",
           "e\u0301", "\u00a0", "\u3000", "—", "…", "“quoted”"]
CONTRACTIONS = ["don't", "it's", "we're", "I've", "I'm", "you'll", "he'd", "'s", "O'Neil"]


def sentence(rng):
    n = rng.randint(3, 14)
    out = []
    for i in range(n):
        u = rng.random()
        if u < 0.06:
            w = rng.choice(UNICODE)
        elif u < 0.10:
            w = rng.choice(CONTRACTIONS)
        elif u < 0.14:
            w = str(rng.choice([rng.randint(0, 99), rng.randint(100, 99999), 2021, 1984]))
        else:
            w = rng.choice(WORDS)
            if i == 0 or rng.random() < 0.05:
                w = w.capitalize()
        out.append(w)
    s = " ".join(out)
    if rng.random() < 0.2:
        s = s.replace(" ", "  ", 1)
    return s + rng.choice([".", ".", ".", "?", "!", ",", ":", ";", "...", " -"])


def text_corpus(seed, n_lines):
    rng = random.Random(seed)
    parts = []
    for _ in range(n_lines):
        parts.append(" ".join(sentence(rng) for _ in range(rng.randint(1, 3))))
        parts.append(rng.choice(["\n", "\n", "\n", "\n\n", " \n", "\r\n", "\t\n", "\n   "]))
    data = "".join(parts).encode("utf-8")
    # A few invalid UTF-8 sequences: a lone continuation byte, a truncated character, bytes never valid.
    pos = [len(data) // 7, len(data) // 3, len(data) // 2, 4 * len(data) // 5]
    bad = [b"\x80", b"\xe4\xb8", b"\xff\xfe", b"\xc0\xaf"]
    for p, b in sorted(zip(pos, bad), reverse=True):
        data = data[:p] + b + data[p:]
    return data


def tab_corpus(seed, n_lines):
    """Lines of TAB-separated segments, as the demo world's LM corpus."""
    rng = random.Random(seed)
    colours = WORDS[WORDS.index("red"):WORDS.index("pink") + 1]
    shapes = WORDS[WORDS.index("circle"):WORDS.index("cross") + 1]
    places = ["on the left", "on the right", "at the top", "at the bottom", "in the middle"]
    names = ["dax", "blicket", "wug", "zorp", "fep", "tufa"]

    def caption():
        k = rng.choice(["a", "two", "three"])
        s = "s" if k != "a" else ""
        return f"{k} {rng.choice(['small', 'large'])} {rng.choice(colours)} {rng.choice(shapes)}{s} {rng.choice(places)}"

    lines = []
    for _ in range(n_lines):
        u = rng.random()
        if u < 0.3:
            segs = [caption()]
        elif u < 0.6:
            segs = [caption(), f"Question: What colour is the shape? Answer: {rng.choice(colours)}"]
        else:
            a, b = rng.sample(names, 2)
            segs = [f"Answer with {a} or {b}.", caption(), f"This is a {a}.", caption(), f"This is a {b}.",
                    caption(), f"Question: What is this? Answer: {rng.choice([a, b])}"]
        lines.append("\t".join(segs))
    return ("\n".join(lines) + "\n").encode("utf-8")


def abc_corpus(seed, n_words):
    """Words over a two-letter alphabet: merged strings are often re-made from other pairs."""
    rng = random.Random(seed)
    words = []
    for _ in range(n_words):
        w = "".join(rng.choice("ab") for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.2:
            w = "a" * rng.randint(2, 9)
        words.append(w)
    return (" ".join(words) + "\n").encode("ascii")


CASES = [
    # name, corpus, vocab_size, min_frequency, tab_segments
    ("text", text_corpus(1, 700), 700, 2, False),
    ("tab", tab_corpus(2, 600), 100000, 3, True),
    ("abc", abc_corpus(3, 3000), 460, 1, False),
]

NPM_TEXTS = [
    "The small red circle is on the left.",
    "Grüße aus Москва: 世界 🙂 naïve café, don't we're I've 12345 ½.",
    "Question: What colour is the shape? Answer: red",
    "  leading spaces, trailing spaces   \n\n\tand tabs\r\n",
    "unseen words: zyxwvut quokka 9876543210 !!!??? ,,,;;; \"\"'' ((()))",
    "a\u00a0b\u3000c\u2009d\ufeffe",
    "aaaaaaaaaaaaaaaaaaaa abababababab baba ab a b",
]


def npm_package():
    if len(sys.argv) > 1:
        return sys.argv[1], None
    default = "/tmp/npmref/node_modules/gpt-3-encoder"
    if os.path.exists(os.path.join(default, "Encoder.js")):
        return default, None
    tmp = tempfile.mkdtemp()
    subprocess.run(["npm", "install", "--silent", "--prefix", tmp, "gpt-3-encoder@1.1.4"], check=True)
    return os.path.join(tmp, "node_modules", "gpt-3-encoder"), tmp


def npm_expected(pkg, case_dir, texts):
    """gpt-3-encoder loads encoder.json and vocab.bpe beside Encoder.js: a copy of it sits beside ours."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(pkg, "Encoder.js"), tmp)
        shutil.copy(os.path.join(case_dir, "vocab.json"), os.path.join(tmp, "encoder.json"))
        shutil.copy(os.path.join(case_dir, "merges.txt"), os.path.join(tmp, "vocab.bpe"))
        shutil.copy(os.path.join(pkg, "package.json"), tmp)
        subprocess.run(["node", "tests/reference/tokenizer_comma_keys.js", tmp], check=True, stdout=subprocess.DEVNULL)
        js = ("const {encode, decode} = require(process.argv[1] + '/Encoder.js');\n"
              "const texts = JSON.parse(require('fs').readFileSync(0, 'utf-8'));\n"
              "for (const text of texts) {\n"
              "  const ids = encode(text);\n"
              "  if (ids.some(id => typeof id !== 'number') || decode(ids) !== text.replace(/^\\uFEFF/, ''))\n"
              "    throw new Error('reference fails on ' + JSON.stringify(text));\n"
              "  console.log(JSON.stringify({text, ids}));\n"
              "}\n")
        r = subprocess.run(["node", "-e", js, tmp], input=json.dumps(texts), capture_output=True, text=True,
                           check=True)
    with open(os.path.join(case_dir, "npm_expected.jsonl"), "w", encoding="utf-8") as f:
        f.write(r.stdout)


def main():
    pkg, tmp = npm_package()
    for name, corpus, vocab_size, min_frequency, tab in CASES:
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "corpus.txt"), "wb") as f:
            f.write(corpus)
        with open(os.path.join(d, "params.json"), "w") as f:
            json.dump({"vocab_size": vocab_size, "min_frequency": min_frequency, "tab_segments": int(tab)}, f)
            f.write("\n")
        counts = ref.count_words(corpus, tab)
        vocab, merges, stats = ref.train(counts, vocab_size, min_frequency)
        ref.write(d, vocab, merges)
        print(f"{d}: {len(corpus)} bytes, {len(counts)} distinct words, {len(vocab) + 1} tokens, {len(merges)} "
              f"merges; {stats['repeated_strings']} re-made a token, {stats['repeated_pairs']} re-merged a pair")
        if name != "abc":
            lines = [l for l in corpus.decode("utf-8", "replace").split("\n")[:40] if l and "\ufffd" not in l]
            npm_expected(pkg, d, NPM_TEXTS + lines[:20])
    if tmp:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
