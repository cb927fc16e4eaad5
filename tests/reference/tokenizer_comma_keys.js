// tokenizer_comma_keys.js -- proves that a quirk of the JS reference cannot change its output on the GPT-2 files.
//
// The reference keys its merge ranks by `bpe_ranks[pair]`, i.e. by the string "left,right". Two different pairs
// can share that key (("\"", ",\"") and ("\",", "\"") are both "\",,\""), so the JS encoder would give the pair
// ("\",", "\"") the rank of ("\"", ",\"") and merge it, where OpenAI's encoder.py (tuple keys) would not. The C
// tokenizer follows encoder.py (pairs of ids). This script lists every such collision in the package's files and
// checks, from the ranks, that the colliding pair can never be adjacent during BPE, so both agree on all inputs:
//   x a lone character, y = "," + rest:  (x, ",") outranks every merge ("," , q) with q a prefix of rest, so the
//       comma joins x before it can start y;
//   x = head + ",", y a lone character:  ("," , y) outranks every merge (p, ",") with p a suffix of head, so the
//       comma joins y before it can end x.
// Exits non-zero (naming the pair) if a collision fits neither case. Usage: node tokenizer_comma_keys.js PKGDIR
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'encoder.json'), 'utf-8'));
const lines = fs.readFileSync(path.join(dir, 'vocab.bpe'), 'utf-8').split('\n');
const merges = lines.slice(1, lines.length - 1).map(x => x.split(/(\s+)/).filter(e => e.trim().length > 0));
const rank = new Map();
merges.forEach(([a, b], i) => rank.set(a + '\u0000' + b, i));
const r = (a, b) => rank.has(a + '\u0000' + b) ? rank.get(a + '\u0000' + b) : Infinity;
const chars = s => Array.from(s).length;

let collisions = 0, unproven = 0;
for (const [a, b] of merges) {
  const key = a + ',' + b;
  for (let i = 0; i < key.length; i++) {
    if (key[i] !== ',') continue;
    const x = key.slice(0, i), y = key.slice(i + 1);
    if (x === a || !(x in vocab) || !(y in vocab) || rank.has(x + '\u0000' + y)) continue;
    collisions++;
    let proof = null;
    if (chars(x) === 1 && y.startsWith(',')) {
      const rest = y.slice(1);
      let worst = Infinity;
      for (let k = 1; k <= rest.length; k++) worst = Math.min(worst, r(',', rest.slice(0, k)));
      if (r(x, ',') < worst) proof = `(${x},",") rank ${r(x, ',')} < every (",",q) rank (min ${worst})`;
    } else if (chars(y) === 1 && x.endsWith(',')) {
      const head = x.slice(0, -1);
      let worst = Infinity;
      for (let k = 0; k < head.length; k++) worst = Math.min(worst, r(head.slice(k), ','));
      if (r(',', y) < worst) proof = `(",",${y}) rank ${r(',', y)} < every (p,",") rank (min ${worst})`;
    }
    console.log(`comma-key collision ${JSON.stringify([x, y])} ~ merge ${JSON.stringify([a, b])}: ` +
                (proof ? 'unreachable: ' + proof : 'NOT PROVEN UNREACHABLE'));
    if (!proof) unproven++;
  }
}
console.log(`${collisions} comma-key collisions, ${unproven} not proven unreachable`);
process.exit(unproven ? 1 : 0);
