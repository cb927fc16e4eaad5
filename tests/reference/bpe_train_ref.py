#!/usr/bin/python3
"""bpe_train_ref.py -- a plain reference for `frozen tokenizer-train` (byte-level BPE training), written from the
textbook description (Sennrich et al. 2016; GPT-2's byte-level variant), slow and simple on purpose: every merge
recounts every pair of every word. It shares no code with the C trainer.

    /usr/bin/python3 bpe_train_ref.py CORPUS OUTDIR VOCAB_SIZE MIN_FREQUENCY [--tab-segments]

The rules (include/frozen.h states the same):
  - words: GPT-2's pre-tokenisation pattern over the text. Invalid UTF-8 is not decoded: the bytes are cut into
    maximal valid runs and maximal invalid runs; a valid run is split by the pattern as a whole text of its own, an
    invalid run is one word. With --tab-segments, TAB, LF and CR separate segments (split on their own) and are
    not text.
  - start from the 256 single bytes; repeat: count every adjacent pair in every word (times the word's count);
    take the pair with the highest count, ties to the smallest merged byte string, then the shorter left part;
    stop if its count < MIN_FREQUENCY; its string becomes a token unless it already is one; the pair is listed
    in merges.txt unless it already was; it is merged in every word, left to right without overlap.
  - until VOCAB_SIZE - 1 tokens exist (<|endoftext|> takes the last id).
  - vocab.json: json.dumps of {token: id} in id order (GPT-2's encoder.json style); tokens in GPT-2's byte-level
    alphabet; the 256 bytes first, in the order of their characters. merges.txt: "#version: 0.2", then
    "left right" per line.
"""
import json
import os
import sys
from collections import Counter

import regex  # Debian python3-regex: \p{L}, \p{N}

# JavaScript's \s (WhiteSpace + LineTerminator): the reference tokenizer is JavaScript's.
WS = "\t\n\u000b\u000c\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
PATTERN = regex.compile(
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^" + WS + r"\p{L}\p{N}]+|[" + WS + r"]+(?![^" + WS + r"])|["
    + WS + r"]+")


def bytes_to_unicode():
    """GPT-2's table: printable Latin-1 bytes stand for themselves, the others take U+0100, U+0101, ..."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def utf8_char_len(data, i):
    """Length of the valid UTF-8 character at data[i], 0 if none starts there (Python's strict decoder decides)."""
    for k in (1, 2, 3, 4):
        try:
            data[i:i + k].decode("utf-8")
            return k
        except UnicodeDecodeError:
            continue
    return 0


def words_of(data):
    """The pre-tokens of one text (bytes)."""
    i, n = 0, len(data)
    while i < n:
        j = i
        if utf8_char_len(data, i) == 0:
            while j < n and utf8_char_len(data, j) == 0:
                j += 1
            yield data[i:j]
        else:
            while j < n and utf8_char_len(data, j) > 0:
                j += utf8_char_len(data, j)
            for m in PATTERN.findall(data[i:j].decode("utf-8")):
                yield m.encode("utf-8")
        i = j


def count_words(data, tab_segments):
    counts = Counter()
    segments = regex.split(rb"[\t\n\r]", data) if tab_segments else [data]
    for seg in segments:
        counts.update(words_of(seg))
    return counts


def merge_word(word, a, b):
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def train(counts, vocab_size, min_frequency):
    b2u = bytes_to_unicode()
    vocab = [bytes([b]) for b in sorted(range(256), key=lambda b: ord(b2u[b]))]
    known = set(vocab)
    merges, merged = [], set()
    words = {tuple(bytes([c]) for c in w): f for w, f in counts.items()}
    stats = {"repeated_strings": 0, "repeated_pairs": 0}
    while len(vocab) < vocab_size - 1:
        pairs = Counter()
        for w, f in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += f
        if not pairs:
            break
        (a, b), c = min(pairs.items(), key=lambda kv: (-kv[1], kv[0][0] + kv[0][1], len(kv[0][0])))
        if c < min_frequency:
            break
        if a + b in known:
            stats["repeated_strings"] += 1
        else:
            vocab.append(a + b)
            known.add(a + b)
        if (a, b) in merged:
            stats["repeated_pairs"] += 1
        else:
            merges.append((a, b))
            merged.add((a, b))
        new_words = Counter()
        for w, f in words.items():
            new_words[merge_word(w, a, b)] += f
        words = new_words
    return vocab, merges, stats


def write(outdir, vocab, merges):
    b2u = bytes_to_unicode()
    s = lambda tok: "".join(b2u[c] for c in tok)
    os.makedirs(outdir, exist_ok=True)
    enc = {s(t): i for i, t in enumerate(vocab)}
    enc["<|endoftext|>"] = len(vocab)
    with open(os.path.join(outdir, "vocab.json"), "w", encoding="ascii") as f:
        f.write(json.dumps(enc))
    with open(os.path.join(outdir, "merges.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(s(a) + " " + s(b) + "\n")


def main():
    args = [a for a in sys.argv[1:] if a != "--tab-segments"]
    if len(args) != 4:
        sys.exit(__doc__)
    corpus, outdir, vocab_size, min_frequency = args[0], args[1], int(args[2]), int(args[3])
    with open(corpus, "rb") as f:
        counts = count_words(f.read(), "--tab-segments" in sys.argv)
    vocab, merges, stats = train(counts, vocab_size, min_frequency)
    write(outdir, vocab, merges)
    print(f"{outdir}: {len(counts)} distinct words, {len(vocab) + 1} tokens, {len(merges)} merges, "
          f"{stats['repeated_strings']} merges re-made a token, {stats['repeated_pairs']} re-merged a listed pair")


if __name__ == "__main__":
    main()
