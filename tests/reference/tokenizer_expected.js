// tokenizer_expected.js -- reference token ids for the tokenizer test, from npm gpt-3-encoder (OpenAI's GPT-2
// encoder ported to JavaScript).
//     node tokenizer_expected.js PKGDIR CORPUS OUT
// CORPUS holds one JSON string per line (// comments and blank lines are skipped). Deterministic random strings
// are appended to it (a fixed-seed PRNG, so the committed OUT is reproducible). OUT gets one JSON object per line:
//     {"text": "...", "ids": [...]}
'use strict';
const fs = require('fs');
const path = require('path');

const [pkg, corpusPath, outPath] = process.argv.slice(2);
const { encode, decode } = require(path.resolve(pkg, 'Encoder.js'));

const texts = [];
fs.readFileSync(corpusPath, 'utf-8').split('\n').forEach((line, i) => {
  if (line === '' || line.startsWith('//')) return;
  const s = JSON.parse(line);
  if (typeof s !== 'string') throw new Error(`${corpusPath} line ${i + 1}: not a JSON string`);
  texts.push(s);
});

// mulberry32: a small fixed PRNG, so the random strings are the same on every run and every Node version.
function prng(seed) {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const isSurrogate = c => c >= 0xD800 && c <= 0xDFFF;

// Code points from the whole range, weighted towards the parts text is made of.
function randomUnicode(seed, n) {
  const rnd = prng(seed), pick = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  let s = '';
  for (let i = 0; i < n; i++) {
    const u = rnd();
    let c;
    if (u < 0.25) c = pick(0x20, 0x7E);                      // ASCII
    else if (u < 0.30) c = [0x09, 0x0A, 0x0D, 0x20, 0x20, 0xA0, 0x3000, 0x2009, 0xFEFF, 0x200B, 0x85][pick(0, 10)];
    else if (u < 0.40) c = pick(0x80, 0x24F);                // Latin-1, Latin Extended
    else if (u < 0.50) c = pick(0x300, 0x36F);               // combining marks
    else if (u < 0.60) c = pick(0x4E00, 0x9FFF);             // CJK
    else if (u < 0.65) c = pick(0xAC00, 0xD7A3);             // Hangul
    else if (u < 0.75) c = pick(0x1F300, 0x1FAFF);           // emoji and symbols
    else if (u < 0.90) c = pick(0x80, 0xFFFD);               // anywhere in the BMP
    else c = pick(0x10000, 0x10FFFF);                         // anywhere beyond it, unassigned planes included
    if (isSurrogate(c)) c = 0xFFFD;
    s += String.fromCodePoint(c);
  }
  return s;
}

// Pieces that stress the pattern's alternatives: contractions, whitespace before non-whitespace, digits.
function randomPieces(seed, n) {
  const rnd = prng(seed);
  const pieces = ["'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "s", "t", "re", "a", "B", " ", "  ", "   ",
    "\t", "\n", "\r\n", "\u00A0", "\u3000", "\u2009", "\u200B", "\uFEFF", "\u0085", "1", "23", "456", "\u0663", "!",
    "?!", ",", ".", "\"", "\u00E9", "e\u0301", "\u4E2D", "\uD83D\uDE00", "\u200D", "<|endoftext|>", "-", "_", "\u00BD"];
  let s = '';
  for (let i = 0; i < n; i++) s += pieces[Math.floor(rnd() * pieces.length)];
  return s;
}

texts.push(randomUnicode(1, 3000), randomUnicode(2, 500), randomUnicode(3, 40),
           randomPieces(4, 3000), randomPieces(5, 200), randomPieces(6, 30));
// Long pre-tokens: BPE over thousands of symbols at once.
texts.push('a'.repeat(3000), 'ab'.repeat(1500), ' '.repeat(3000) + 'x', ' '.repeat(1000), '1'.repeat(3000),
           '!'.repeat(3000), '\n'.repeat(2000), '\u00e9'.repeat(1000), '\uD83D\uDE00'.repeat(500),
           '12345678901234567890'.repeat(100), '.,;:!?'.repeat(300));

const out = texts.map(text => {
  const ids = encode(text);
  if (ids.some(id => typeof id !== 'number')) throw new Error(`reference gave a non-number id for ${JSON.stringify(text)}`);
  // (The reference's decode uses a TextDecoder, which drops a leading U+FEFF.)
  if (decode(ids) !== text.replace(/^\uFEFF/, '')) throw new Error(`reference does not round-trip ${JSON.stringify(text)}`);
  return JSON.stringify({ text, ids });
});
fs.writeFileSync(outPath, out.join('\n') + '\n');
console.log(`${outPath}: ${out.length} lines`);
