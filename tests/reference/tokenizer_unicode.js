// tokenizer_unicode.js -- how the reference's regex classifies every code point.
//
// The GPT-2 pattern uses \p{L}, \p{N} and \s under JavaScript's /u flag; Node's ICU decides the Unicode version
// (Node 20 here: Unicode 17). Writes one line per run of equally classified code points:
//     <class> <first> <last>        class: L letter, N number, S JS whitespace, O other; hex code points
// Surrogates (D800-DFFF) are skipped: they cannot occur in UTF-8. Usage: node tokenizer_unicode.js OUT
'use strict';
const fs = require('fs');

const L = /\p{L}/u, N = /\p{N}/u, S = /\s/u;
// The pattern tries \p{L} before \p{N} before \s; a code point in two classes would be classified by the first.
const classify = c => {
  const s = String.fromCodePoint(c);
  return L.test(s) ? 'L' : N.test(s) ? 'N' : S.test(s) ? 'S' : 'O';
};

const lines = [`# Unicode ${process.versions.unicode} (Node ${process.version}, ICU ${process.versions.icu})`];
let cls = null, first = 0;
const hex = c => c.toString(16).toUpperCase().padStart(4, '0');
for (let c = 0; c <= 0x110000; c++) {
  if (c >= 0xD800 && c <= 0xDFFF) continue;
  const k = c === 0x110000 ? null : classify(c);
  const prev = c === 0xE000 ? 0xD7FF : c - 1;
  if (k !== cls || c === 0xE000) {
    if (cls !== null) lines.push(`${cls} ${hex(first)} ${hex(prev)}`);
    cls = k; first = c;
  }
}
fs.writeFileSync(process.argv[2], lines.join('\n') + '\n');
