"""test_frozen.py -- tests of the ctypes binding (frozen.py), standard library unittest only.

Runs with any python3 (numpy tests skip without numpy):  python3 examples/python/test_frozen.py
It ends with "python: N passed, M failed" (tests/python_test.sh runs it in `make check`).

References are independent of the binding: the C compiler's sizeof/offsetof of the header's structs, the
committed PyTorch reference logits (tests/fixtures/models/*.expected.safetensors), the reference tokenizer's ids
(tests/fixtures/tokenizer/expected.jsonl), Pillow's decoded pixels (tests/fixtures/images/*.rgb), the CLI's
`frozen generate --ids`, the projector's weights read from its file and applied here in Python.
"""

import array
import functools
import gc
import json
import logging
import math
import operator
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir))
sys.path.insert(0, HERE)

import frozen  # noqa: E402

try:
    import numpy
except ImportError:
    numpy = None

FIX = os.path.join(REPO, "tests", "fixtures")
MODELS = ["gpt2-f32", "gpt2-f16-prefix", "gpt2-bf16-sharded", "gpt2-eps", "gpt2-gelu", "gpt2-untied"]
SMALL_LM = os.path.join(FIX, "models", "gpt2-f32")  # 2 layers, width 48, 457 ids, context 64
HEADER = os.path.join(REPO, "include", "frozen.h")
CLI = os.path.join(REPO, "bin", "frozen")


def close_enough(got, want, tol=1e-4):
    return abs(got - want) <= tol * max(1.0, abs(want))


# ---- safetensors, read and written here (stdlib only) ----------------------------------------------------------

_DT = {"F32": "f", "F64": "d", "I32": "i"}


def read_safetensors(path):
    """{name: (shape, array)} and the metadata dict."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        a = array.array(_DT[t["dtype"]])
        a.frombytes(data[t["data_offsets"][0]:t["data_offsets"][1]])
        out[name] = (t["shape"], a)
    return out, meta


def write_safetensors(path, tensors):
    """tensors: {name: (shape, bytes of F32)}."""
    header, blobs, off = {}, [], 0
    for name, (shape, blob) in tensors.items():
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_png(path, width, height, rgb):
    """A solid-colour 8-bit RGB PNG, written with zlib."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def find_cc():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


class TempDir(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="frozen-py.")
        self.addCleanup(shutil.rmtree, self.tmp, True)


# ---- the C view: structs, enums, function table --------------------------------------------------------------


class TestAgainstHeader(TempDir):
    def compile_and_run(self, body):
        cc = find_cc()
        if cc is None:
            self.skipTest("no C compiler: layouts not compared (the module itself needs none)")
        src = os.path.join(self.tmp, "layout.c")
        exe = os.path.join(self.tmp, "layout")
        with open(src, "w") as f:
            f.write("#include <stddef.h>\n#include <stdio.h>\n#include \"frozen.h\"\nint main(void)\n{\n%s"
                    "    return 0;\n}\n" % body)
        r = subprocess.run([cc, "-std=c11", "-I", os.path.join(REPO, "include"), "-o", exe, src],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(r.returncode, 0, "the C program did not compile (a field or name is not in the "
                                          "header?):\n" + r.stdout)
        return subprocess.run([exe], stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout

    def test_struct_layouts_match_the_compiler(self):
        import ctypes
        body, want = "", []
        for cname, cls in frozen.C_STRUCTS.items():
            body += '    printf("%%s %%zu\\n", "%s", sizeof(%s));\n' % (cname, cname)
            want.append("%s %d" % (cname, ctypes.sizeof(cls)))
            for field, ftype in cls._fields_:
                body += ('    printf("%%s.%%s %%zu %%zu\\n", "%s", "%s", offsetof(%s, %s), sizeof(((%s *)0)->%s));\n'
                         % (cname, field, cname, field, cname, field))
                want.append("%s.%s %d %d" % (cname, field, getattr(cls, field).offset, ctypes.sizeof(ftype)))
        got = self.compile_and_run(body).split("\n")[:-1]
        self.assertEqual(got, want)

    def test_struct_fields_are_all_mirrored(self):
        # Every member the header declares, in order (the compiler check above proves those mirrored exist).
        text = read_bytes(HEADER).decode()
        for cname, cls in frozen.C_STRUCTS.items():
            m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (cname, cname), text, re.S)
            self.assertIsNotNone(m, cname)
            body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
            names = []
            for decl in body.split(";"):
                decl = decl.strip()
                if not decl:
                    continue
                if "(" in decl:  # a function pointer member: (*name)
                    names.append(re.search(r"\(\s*\*\s*(\w+)\s*\)", decl).group(1))
                    continue
                head, *rest = decl.split(",")
                names.append(re.findall(r"(\w+)\s*$", head)[0])
                names += [r.strip().lstrip("*").strip() for r in rest]
            self.assertEqual([f for f, _ in cls._fields_], names, cname)

    def test_enum_values_match_the_header(self):
        pairs = [(frozen.c_enum_name(m), int(m)) for enum in frozen.C_ENUM_PREFIX for m in enum]
        pairs += list(frozen.C_CONSTANTS.items())
        body = "".join('    printf("%%s %%lld\\n", "%s", (long long)(%s));\n' % (n, n) for n, _ in pairs)
        got = self.compile_and_run(body).split("\n")[:-1]
        self.assertEqual(got, ["%s %d" % p for p in pairs])

    def test_function_table_matches_the_header(self):
        text = re.sub(r"/\*.*?\*/", "", read_bytes(HEADER).decode(), flags=re.S)
        decls = {}
        for ret, name, args in re.findall(r"FRZ_API\s+([^;(]*?)\b(frz_\w+)\s*\(([^)]*)\)\s*;", text):
            n_args = 0 if args.strip() == "void" else args.count(",") + 1
            kind = "status" if ret.strip() == "frz_status" else ("void" if ret.strip() == "void" else "value")
            decls[name] = (kind, n_args)
        self.assertGreater(len(decls), 60)
        bound = set()
        for name, restype, argtypes in frozen._PROTOS:
            bound.add(name)
            self.assertIn(name, decls, "%s is bound but not declared in frozen.h" % name)
            kind = "status" if restype is frozen._S else ("void" if restype is None else "value")
            self.assertEqual((kind, len(argtypes)), decls[name], name)
        unbound = sorted(set(decls) - bound)
        if unbound:  # new API from elsewhere: one _PROTOS line each (and a method); not a failure of what exists
            sys.stderr.write("\nnote: frozen.h functions without a binding yet: %s\n" % ", ".join(unbound))


# ---- errors, handles, paths ------------------------------------------------------------------------------------


class TestErrors(TempDir):
    def test_missing_folder_is_an_io_error_naming_the_file(self):
        with self.assertRaises(frozen.IOFailure) as cm:
            frozen.LM(os.path.join(self.tmp, "nope"))
        e = cm.exception
        self.assertIsInstance(e, frozen.FrozenError)
        self.assertEqual(e.status, frozen.Status.IO)
        self.assertEqual(e.strerror, frozen.lib.frz_strerror(1).decode())
        self.assertIn(os.path.join(self.tmp, "nope"), e.message)
        self.assertIn(e.message, str(e))

    def test_malformed_config_is_a_format_error(self):
        d = os.path.join(self.tmp, "bad")
        shutil.copytree(SMALL_LM, d)
        with open(os.path.join(d, "config.json"), "w") as f:
            f.write('{"n_layer": 2,')
        with self.assertRaises(frozen.FormatError) as cm:
            frozen.LM(d)
        self.assertIn("config.json", cm.exception.message)

    def test_invalid_argument_is_also_a_value_error(self):
        with frozen.LM(SMALL_LM) as lm, lm.session() as s:
            with self.assertRaises(ValueError) as cm:
                s.set_threads(0)
            self.assertIsInstance(cm.exception, frozen.InvalidArgumentError)
            self.assertEqual(cm.exception.status, frozen.Status.INVALID_ARG)
            self.assertTrue(cm.exception.message)

    def test_context_full(self):
        with frozen.LM(SMALL_LM) as lm, lm.session() as s:
            with self.assertRaises(frozen.ContextFullError):
                s.eval([5] * (lm.n_ctx + 1))
            self.assertEqual(s.seq_len(0), 0)
            s.eval([5] * lm.n_ctx)  # exactly the context is fine
            self.assertEqual(s.seq_len(0), lm.n_ctx)

    def test_paths_as_str_pathlib_and_bytes(self):
        for p in (SMALL_LM, pathlib.Path(SMALL_LM), os.fsencode(SMALL_LM)):
            with frozen.LM(p) as lm:
                self.assertEqual(lm.n_vocab, 457)

    def test_close_and_context_managers(self):
        lm = frozen.LM(SMALL_LM)
        s = lm.session()
        pr = frozen.Prompt(lm).add_text("hi")
        lm.close()  # closes what depends on it first
        self.assertTrue(lm.closed and s.closed and pr.closed)
        with self.assertRaises(ValueError):
            s.eval([1])
        with self.assertRaises(ValueError):
            lm.tokenize("x")
        lm.close()  # idempotent
        with frozen.LM(SMALL_LM) as lm2:
            pass
        self.assertTrue(lm2.closed)

    def test_a_session_keeps_its_model_alive(self):
        s = frozen.LM(SMALL_LM).session()  # the LM object has no other reference
        gc.collect()
        s.eval([1, 2, 3])
        self.assertEqual(len(s.logits(0)), 457)
        s.close()

    def test_handles_in_a_reference_cycle(self):
        # the collector finalizes a cycle in any order: the session must still be freed before its model
        cells = []
        for _ in range(3):
            lm = frozen.LM(SMALL_LM)
            s = lm.session()
            pr = frozen.Prompt(lm).add_text("hi")
            box = {"lm": lm, "s": s, "pr": pr}
            box["self"] = box
            cells += [lm._cell, s._cell, pr._cell]
            del lm, s, pr, box
        gc.collect()
        self.assertEqual([c[0] for c in cells], [None] * 9)
        self.assertTrue(all(not c[2] for c in cells))

    def run_python(self, code, **env):
        return subprocess.run([sys.executable, "-c", code], cwd=self.tmp, env=dict(os.environ, **env),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)

    def test_library_lookup(self):
        code = "import sys; sys.path.insert(0, %r); import frozen; print(frozen.library_path, frozen.version())" % HERE
        env = dict(os.environ)
        env.pop("FROZEN_LIBRARY", None)
        r = subprocess.run([sys.executable, "-c", code], cwd=self.tmp, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        self.assertEqual(r.stdout.split(), [os.path.join(REPO, "lib", "libfrozen.so.0"), frozen.version()])
        copy = os.path.join(self.tmp, "libcopy.so")
        shutil.copy(frozen.library_path, copy)
        r = self.run_python(code, FROZEN_LIBRARY=copy)  # the environment comes first
        self.assertEqual(r.stdout.split()[0], copy, r.stdout)
        r = self.run_python(code, FROZEN_LIBRARY=os.path.join(self.tmp, "none.so"))
        self.assertIn("ImportError: cannot load libfrozen from", r.stdout)

    def test_unknown_training_parameter(self):
        with frozen.LM(SMALL_LM) as lm:
            with self.assertRaises(TypeError):
                frozen.Trainer(lm, "x.tsv", self.tmp, batch_sz=3)


# ---- tokenizer ---------------------------------------------------------------------------------------------------


def gpt2_vocab_lm(folder):
    """A 1-layer, width-8 GPT-2 with zero weights over GPT-2's full vocabulary and the real tokenizer files."""
    V, C, T = 50257, 8, 16
    with open(os.path.join(SMALL_LM, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(vocab_size=V, n_embd=C, n_head=2, n_layer=1, n_ctx=T, n_positions=T, bos_token_id=V - 1,
               eos_token_id=V - 1)
    os.makedirs(folder)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(FIX, "gpt2-tokenizer", f), folder)

    def z(*shape):
        return (list(shape), bytes(4 * functools.reduce(operator.mul, shape, 1)))
    t = {"wte.weight": z(V, C), "wpe.weight": z(T, C), "ln_f.weight": z(C), "ln_f.bias": z(C)}
    for k, shape in {"ln_1.weight": (C,), "ln_1.bias": (C,), "attn.c_attn.weight": (C, 3 * C),
                     "attn.c_attn.bias": (3 * C,), "attn.c_proj.weight": (C, C), "attn.c_proj.bias": (C,),
                     "ln_2.weight": (C,), "ln_2.bias": (C,), "mlp.c_fc.weight": (C, 4 * C),
                     "mlp.c_fc.bias": (4 * C,), "mlp.c_proj.weight": (4 * C, C), "mlp.c_proj.bias": (C,)}.items():
        t["h.0." + k] = z(*shape)
    write_safetensors(os.path.join(folder, "model.safetensors"), t)
    return folder


class TestTokenizer(TempDir):
    def test_reference_ids_and_round_trip(self):
        with frozen.LM(gpt2_vocab_lm(os.path.join(self.tmp, "gpt2"))) as lm:
            self.assertEqual(lm.eot_token, 50256)
            n = 0
            with open(os.path.join(FIX, "tokenizer", "expected.jsonl"), encoding="utf-8") as f:
                for line in f:
                    case = json.loads(line)
                    self.assertEqual(lm.tokenize(case["text"]), case["ids"], case["text"][:60])
                    self.assertEqual(lm.detokenize_bytes(case["ids"]), case["text"].encode("utf-8"))
                    self.assertEqual(lm.detokenize(case["ids"]), case["text"])
                    n += 1
            self.assertGreater(n, 300)
            # long input: the first buffer guess is short of nothing, the retry path is exercised by detokenize
            text = "Hello world " * 2000
            ids = lm.tokenize(text)
            self.assertEqual(ids[:2], [15496, 995])
            self.assertEqual(lm.detokenize(ids), text)
            self.assertEqual(lm.tokenize("<|endoftext|>", special=True), [50256])
            self.assertGreater(len(lm.tokenize("<|endoftext|>")), 1)
            self.assertEqual(lm.tokenize(b"Hello world"), [15496, 995])
            # tokens longer than the first buffer guess (16 bytes a token): the retry at the needed size
            ids = lm.tokenize("=" * 64)
            self.assertLessEqual(len(ids), 2)
            self.assertEqual(lm.detokenize(ids), "=" * 64)

    def test_invalid_utf8_round_trips_as_bytes(self):
        with frozen.LM(SMALL_LM) as lm:
            raw = b"ab\xff\xfe cd \xc3"
            ids = lm.tokenize(raw)
            self.assertEqual(lm.detokenize_bytes(ids), raw)
            self.assertEqual(lm.detokenize(ids, errors="surrogateescape").encode("utf-8", "surrogateescape"), raw)
            self.assertEqual(lm.tokenize(lm.detokenize(ids, errors="surrogateescape")), ids)
            self.assertEqual(lm.tokenize(""), [])
            with self.assertRaises(frozen.InvalidArgumentError):
                lm.detokenize([10 ** 6])


# ---- the LM against the PyTorch reference -------------------------------------------------------------------------


class TestParity(unittest.TestCase):
    def expect(self, model):
        return read_safetensors(os.path.join(FIX, "models", model + ".expected.safetensors"))

    def assert_rows(self, s, first_row, want, n_rows, V, what):
        for r in range(n_rows):
            got = s.logits(first_row + r)
            self.assertEqual(len(got), V)
            for j in range(V):
                if not close_enough(got[j], want[r * V + j]):
                    self.fail("%s: row %d logit %d: got %.7g, want %.7g" % (what, r, j, got[j], want[r * V + j]))

    def test_properties_and_batched_logits(self):
        for model in MODELS:
            ex, meta = self.expect(model)
            with frozen.LM(os.path.join(FIX, "models", model)) as lm:
                self.assertEqual(lm.n_layer, int(meta["n_layer"]))
                self.assertEqual(lm.n_head, int(meta["n_head"]))
                self.assertEqual(lm.n_embd, int(meta["n_embd"]))
                self.assertEqual(lm.n_vocab, int(meta["n_vocab"]))
                self.assertEqual(lm.n_ctx, int(meta["n_ctx"]))
                self.assertEqual(lm.eot_token, int(meta["eot"]))
                self.assertEqual(lm.n_params, int(meta["n_params"]))
                count = ex["seq.count"][1][0]
                seqs = [list(ex["seq.%d.ids" % i][1]) for i in range(count)]
                with lm.session(max_seqs=count) as s:
                    rows = s.eval_batch([(i, ids, None) for i, ids in enumerate(seqs)], logits="all")
                    self.assertEqual(rows, sum(map(len, seqs)))
                    row = 0
                    for i, ids in enumerate(seqs):
                        self.assert_rows(s, row, ex["seq.%d.logits" % i][1], len(ids), lm.n_vocab,
                                         "%s seq %d" % (model, i))
                        row += len(ids)
                    with self.assertRaises(IndexError):
                        s.logits(row)

    def test_greedy_and_score(self):
        for model in MODELS:
            ex, _ = self.expect(model)
            with frozen.LM(os.path.join(FIX, "models", model)) as lm, lm.session() as s:
                for prompt, ids in (("greedy.prompt", "greedy.ids"), ("ctx.prompt", "ctx.ids")):
                    p = list(ex[prompt][1])
                    s.truncate(0, 0)
                    s.eval(p, logits="none")
                    self.assertEqual(s.generate(max_tokens=10, stop_at_eot=False), list(ex[ids][1]), model)
                    s.truncate(0, len(p))
                    self.assertEqual(s.generate(max_tokens=10, temperature=1.5, top_k=1, stop_at_eot=False),
                                     list(ex[ids][1]), model + " top_k 1")
                s.truncate(0, 0)
                s.eval(list(ex["score.context"][1]), logits="none")
                sc = s.score(list(ex["score.cont"][1]))
                self.assertTrue(close_enough(sc.total, ex["score.total"][1][0]), model)
                for got, want in zip(sc.token_logprobs, ex["score.logprobs"][1]):
                    self.assertTrue(close_enough(got, want), "%s: %g vs %g" % (model, got, want))
                self.assertEqual(s.seq_len(0), len(ex["score.context"][1]))

    def prefix_case(self, model, embd_of):
        ex, _ = self.expect(model)
        with frozen.LM(os.path.join(FIX, "models", model)) as lm, lm.session() as s:
            V, C = lm.n_vocab, lm.n_embd
            pe, pids, want = ex["prefix.embd"][1], list(ex["prefix.ids"][1]), ex["prefix.logits"][1]
            K = len(pe) // C
            # one eval, TOKEN_EMBEDDING positions, garbage in the token positions' rows
            emb = array.array("f", list(pe) + [1e3] * (len(pids) * C))
            s.eval([frozen.TOKEN_EMBEDDING] * K + pids, embd_of(emb, K + len(pids), C), logits="all")
            self.assert_rows(s, 0, want, K + len(pids), V, model + " prefix + tokens")
            # two evals through the cache; embeddings only
            s.truncate(0, 0)
            s.eval(embd=embd_of(pe, K, C), logits="all")
            self.assert_rows(s, 0, want, K, V, model + " prefix alone")
            s.eval(pids, logits="all")
            self.assert_rows(s, 0, want[K * V:], len(pids), V, model + " tokens after the prefix")
            # the same prefix through a prompt
            with frozen.Prompt(lm) as pr:
                pr.add_embeddings(embd_of(pe, K, C))
                self.assertEqual(pr.tokens(), [frozen.TOKEN_EMBEDDING] * K)
                self.assertEqual(list(pr.embedding(0)), list(pe[:C]))
                s.truncate(0, 0)
                self.assertEqual(pr.eval(s, logits="all"), K)
                self.assert_rows(s, 0, want, K, V, model + " prompt embeddings")

    def test_embedding_prefix_from_array_and_lists(self):
        self.prefix_case("gpt2-f32", lambda a, n, C: array.array("f", a))
        self.prefix_case("gpt2-gelu", lambda a, n, C: [list(a[i * C:(i + 1) * C]) for i in range(n)])

    @unittest.skipIf(numpy is None, "numpy is not installed")
    def test_embedding_prefix_from_numpy(self):
        self.prefix_case("gpt2-f32", lambda a, n, C: numpy.array(a, dtype=numpy.float32).reshape(n, C))
        self.prefix_case("gpt2-eps", lambda a, n, C: numpy.array(a, dtype=numpy.float64).reshape(n, C))  # converted
        with frozen.LM(SMALL_LM) as lm, lm.session() as s:
            s.eval([1, 2, 3])
            row = numpy.asarray(s.logits(0))
            self.assertEqual((row.dtype, row.shape), (numpy.float32, (457,)))

    def test_eval_checks_embedding_sizes(self):
        with frozen.LM(SMALL_LM) as lm, lm.session() as s:
            with self.assertRaises(ValueError):
                s.eval(embd=[0.0] * 47)
            with self.assertRaises(ValueError):
                s.eval([frozen.TOKEN_EMBEDDING, 3])
            with self.assertRaises(ValueError):
                s.eval([frozen.TOKEN_EMBEDDING, 3], [0.0] * 48)


# ---- generation: the CLI, callbacks, threads ---------------------------------------------------------------------


class TestGenerate(unittest.TestCase):
    def cli_ids(self, *args):
        if not os.access(CLI, os.X_OK):
            self.skipTest("bin/frozen is not built")
        r = subprocess.run([CLI, "generate", "--lm", SMALL_LM, "--ids", "--threads", "1"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [int(x) for x in r.stdout.split()]

    def test_equals_the_cli(self):
        prompt = "Hello, my dog"
        cases = [
            (["--greedy", "--max-tokens", "12"], dict(max_tokens=12), None),
            (["--temperature", "0.9", "--top-k", "40", "--seed", "5", "--max-tokens", "16"],
             dict(max_tokens=16, temperature=0.9, top_k=40), 5),
            (["--temperature", "1.3", "--top-p", "0.8", "--seed", "123", "--max-tokens", "16"],
             dict(max_tokens=16, temperature=1.3, top_p=0.8), 123),
        ]
        with frozen.LM(SMALL_LM) as lm, lm.session(threads=1) as s:
            for cli_args, params, seed in cases:
                want = self.cli_ids("--prompt", prompt, *cli_args)
                self.assertTrue(want)
                if seed is not None:
                    s.set_seed(seed)
                s.truncate(0, 0)
                s.eval(lm.tokenize(prompt), logits="none")
                self.assertEqual(s.generate(**params), want, cli_args)
            # a stop string taken from the greedy text: the output ends before it, as the CLI's
            s.truncate(0, 0)
            s.eval(lm.tokenize(prompt))
            full = lm.detokenize(s.generate(max_tokens=12))
            stop = full[len(full) // 2:len(full) // 2 + 2]
            want = self.cli_ids("--prompt", prompt, "--max-tokens", "12", "--stop", stop)
            s.truncate(0, 0)
            s.eval(lm.tokenize(prompt))
            got = s.generate(max_tokens=12, stop=stop)
            self.assertEqual(got, want)
            self.assertNotIn(stop, lm.detokenize(got))

    def test_on_token_streams_stops_and_raises(self):
        with frozen.LM(SMALL_LM) as lm, lm.session() as s:
            ids = lm.tokenize("Hello, my dog")
            s.eval(ids)
            seen = []
            out = s.generate(max_tokens=8, stop_at_eot=False, on_token=seen.append)
            self.assertEqual(seen, out)
            self.assertEqual(len(out), 8)
            s.truncate(0, len(ids))
            out = s.generate(max_tokens=8, on_token=lambda t: len(seen.append(t) or seen) >= 11)  # stop after 3
            self.assertEqual(len(out), 3)
            self.assertEqual(s.seq_len(0), len(ids) + 3)

            s.truncate(0, len(ids))
            calls = []

            def boom(tok):
                calls.append(tok)
                if len(calls) == 2:
                    raise KeyError("from on_token")
            with self.assertRaises(KeyError):
                s.generate(max_tokens=8, on_token=boom)
            self.assertEqual(len(calls), 2)
            self.assertEqual(s.seq_len(0), len(ids) + 2)
            s.truncate(0, len(ids))  # the session is usable afterwards
            self.assertEqual(len(s.generate(max_tokens=4, stop_at_eot=False)), 4)

    def test_abort_callback(self):
        with frozen.LM(SMALL_LM) as lm, lm.session() as s:
            ids = lm.tokenize("Hello, my dog")
            s.eval(ids)
            count = []
            s.set_abort(lambda: len(count) >= 3)
            with self.assertRaises(frozen.CancelledError) as cm:
                s.generate(max_tokens=20, stop_at_eot=False, on_token=count.append)
            self.assertEqual(cm.exception.tokens, count)
            self.assertEqual(s.seq_len(0), len(ids) + len(count))

            def bad():
                raise RuntimeError("from abort")
            s.set_abort(bad)
            with self.assertRaises(RuntimeError):
                s.eval([1, 2])
            self.assertEqual(s.seq_len(0), len(ids) + len(count))  # a cancelled eval changes nothing
            s.set_abort(None)
            s.eval([1, 2])

            def interrupt():
                raise KeyboardInterrupt
            s.set_abort(interrupt)  # Ctrl-C arriving in a callback stops C cleanly, then propagates
            n = s.seq_len(0)
            with self.assertRaises(KeyboardInterrupt):
                s.generate(max_tokens=5)
            self.assertEqual(s.seq_len(0), n)

    def test_slots_copy_and_truncate(self):
        with frozen.LM(SMALL_LM) as lm, lm.session(max_seqs=3) as s:
            s.eval(lm.tokenize("Hello, my dog"), seq=0, logits="none")
            s.copy_seq(0, 2)
            self.assertEqual(s.seq_len(2), s.seq_len(0))
            a, b = s.generate(seq=0, max_tokens=6), s.generate(seq=2, max_tokens=6)
            self.assertEqual(a, b)
            s.truncate(-1, 0)
            self.assertEqual([s.seq_len(i) for i in range(3)], [0, 0, 0])
            self.assertEqual(s.seq_len(7), -1)

    def test_threads_share_one_model(self):
        with frozen.LM(SMALL_LM) as lm:
            ids = lm.tokenize("Hello, my dog")
            with lm.session() as s:
                s.eval(ids)
                want = s.generate(max_tokens=20, stop_at_eot=False)
            results, errors = [], []

            def work():
                try:
                    with lm.session() as ts:
                        for _ in range(5):
                            ts.truncate(0, 0)
                            ts.eval(ids)
                            results.append(ts.generate(max_tokens=20, stop_at_eot=False))
                except Exception as e:  # reported below
                    errors.append(e)
            threads = [threading.Thread(target=work) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(results, [want] * 20)

    def test_complete(self):
        with frozen.LM(SMALL_LM) as lm, lm.session() as s:
            text = s.complete("Hello, my dog", max_tokens=6, stop_at_eot=False)
            s.truncate(0, 0)
            s.eval(lm.tokenize("Hello, my dog"))
            self.assertEqual(text, lm.detokenize(s.generate(max_tokens=6, stop_at_eot=False)))


# ---- images, encoder, projector, prompts, captions ----------------------------------------------------------------


class TestImages(TempDir):
    def test_decode_equals_pillow(self):
        for name in ("png_rgb8", "png_gray16", "jpeg_baseline420", "png_adam7_palette_trns"):
            ext = ".jpg" if name.startswith("jpeg") else ".png"
            path = os.path.join(FIX, "images", name + ext)
            want = read_bytes(os.path.join(FIX, "images", name + ".rgb"))
            with frozen.Image(path) as a, frozen.Image(read_bytes(path)) as b, \
                    frozen.Image.open(pathlib.Path(path)) as c:
                for img in (a, b, c):
                    self.assertEqual(3 * img.width * img.height, len(want))
                    if ext == ".png":
                        self.assertEqual(img.pixels(), want, name)  # PNG is exact; JPEG: the C tests' tolerance
                with frozen.Image(memoryview(a.pixels()).cast("B", (a.height, a.width, 3))) as d:
                    self.assertEqual((d.size, d.pixels()), (a.size, a.pixels()))

    def test_from_rgb8_with_a_stride(self):
        w, h, stride = 3, 2, 11
        rows = [bytes(range(r * 20, r * 20 + 9)) + b"\xee\xee" for r in range(h)]
        with frozen.Image.from_rgb8(b"".join(rows), w, h, stride) as img:
            self.assertEqual(img.pixels(), b"".join(r[:9] for r in rows))
        with self.assertRaises(ValueError):
            frozen.Image.from_rgb8(b"\0" * 10, 3, 2, 11)

    def test_bad_images(self):
        with self.assertRaises(frozen.FormatError) as cm:
            frozen.Image.from_bytes(b"\x89PNG\r\n\x1a\nshort", name="clip.png")
        self.assertIn("clip.png", cm.exception.message)
        with self.assertRaises(frozen.UnsupportedError):
            frozen.Image(b"GIF89a" + b"\0" * 32)
        with self.assertRaises(frozen.IOFailure):
            frozen.Image(os.path.join(self.tmp, "none.png"))
        with self.assertRaises(ValueError):
            frozen.Image.from_array(memoryview(b"\0" * 24).cast("B", (2, 3, 4)))

    @unittest.skipIf(numpy is None, "numpy is not installed")
    def test_numpy_arrays(self):
        rng = numpy.random.default_rng(1)
        arr = rng.integers(0, 256, size=(5, 7, 3), dtype=numpy.uint8)
        with frozen.Image(arr) as img:
            self.assertEqual(img.size, (7, 5))
            self.assertTrue((img.to_array() == arr).all())
        view = arr[:, ::2, :]  # not contiguous
        with frozen.Image.from_array(view) as img:
            self.assertTrue((img.to_array() == view).all())
        with self.assertRaises(TypeError):
            frozen.Image(arr.astype(numpy.float32))


def matvec_plus_bias(weight, bias, x, rows, cols):
    return [sum(weight[r * cols + c] * x[c] for c in range(cols)) + bias[r] for r in range(rows)]


class TestVision(TempDir):
    IMG = os.path.join(FIX, "eval", "episodes", "img", "dax1.jpg")

    def setUp(self):
        super().setUp()
        self.lm = frozen.LM(SMALL_LM)
        self.addCleanup(self.lm.close)
        self.v = frozen.Vision.create("tiny", 0.0625, 32, seed=3)
        self.p = frozen.Projector.create(self.v.n_features, 2, self.lm.n_embd, seed=4)
        self.addCleanup(self.v.close)
        self.addCleanup(self.p.close)

    def test_create_save_load_encode(self):
        self.assertEqual(self.v.image_size, 32)
        self.assertGreater(self.v.n_params, 0)
        feats = self.v.encode(self.IMG)
        self.assertEqual(len(feats), self.v.n_features)
        self.assertTrue(all(math.isfinite(x) for x in feats))
        self.assertEqual(self.v.encode(self.IMG, threads=2), feats)
        path = pathlib.Path(self.tmp) / "v.safetensors"
        self.v.save(path)
        with frozen.Vision(path) as v2:
            self.assertEqual((v2.n_features, v2.image_size, v2.n_params),
                             (self.v.n_features, self.v.image_size, self.v.n_params))
            self.assertEqual(v2.encode(frozen.Image(self.IMG)), feats)
        with self.assertRaises(frozen.InvalidArgumentError):
            frozen.Vision.create("resnet9000")

    def test_projector_against_its_weights(self):
        path = os.path.join(self.tmp, "p.safetensors")
        self.p.save(path)
        t, _ = read_safetensors(path)
        (wshape, w), (_, b) = t["projector.weight"], t["projector.bias"]
        F, D = self.v.n_features, self.lm.n_embd
        self.assertEqual(wshape, [2 * D, F])
        self.assertEqual(self.p.n_params, 2 * D * F + 2 * D)
        feats = self.v.encode(self.IMG)
        want = matvec_plus_bias(w, b, feats, 2 * D, F)
        got = self.p.apply(feats)
        for g, x in zip(got, want):
            self.assertTrue(close_enough(g, x, 1e-5), (g, x))
        self.assertEqual(frozen.image_prefix(self.v, self.p, self.IMG), got)
        with frozen.Projector(path) as p2:
            self.assertEqual(p2.apply(feats), got)
        with self.assertRaises(ValueError):
            self.p.apply([0.0] * (F + 1))
        with frozen.Projector.create(F + 1, 2, D) as wrong, self.assertRaises(frozen.ShapeError):
            frozen.image_prefix(self.v, wrong, self.IMG)

    def test_caption_equals_prefix_then_greedy(self):
        with self.lm.session() as s:
            text = s.caption(self.v, self.p, self.IMG, max_tokens=10)
            prefix = frozen.image_prefix(self.v, self.p, self.IMG)
            s.truncate(0, 0)
            s.eval(embd=prefix, logits="none")
            want = self.lm.detokenize(s.generate(max_tokens=10))
            self.assertEqual(text, want)

    def test_prompt_with_images_in_every_form(self):
        img_bytes = read_bytes(self.IMG)
        img = frozen.Image(self.IMG)
        self.addCleanup(img.close)
        forms = [self.IMG, pathlib.Path(self.IMG), img_bytes, img,
                 memoryview(img.pixels()).cast("B", (img.height, img.width, 3))]
        prefix = frozen.image_prefix(self.v, self.p, img)
        with frozen.Prompt(self.lm, self.v, self.p) as pr:
            for form in forms:
                pr.clear().add_text("A").add_image(form).add_text(" is")
                self.assertEqual(pr.segments(), [frozen.Segment(frozen.SegmentKind.TEXT, 0, 1),
                                                 frozen.Segment(frozen.SegmentKind.IMAGE, 1, 2),
                                                 frozen.Segment(frozen.SegmentKind.TEXT, 3, len(pr) - 3)])
                self.assertEqual(list(pr.embedding(1)) + list(pr.embedding(2)), list(prefix))
                self.assertIsNone(pr.embedding(0))
            toks = pr.tokens()
            self.assertEqual(toks[1:3], [frozen.TOKEN_EMBEDDING] * 2)
            # generate and score through the prompt equal the same positions fed by hand
            with self.lm.session() as s:
                got = pr.generate(s, max_tokens=6, stop_at_eot=False)
                s.truncate(0, 0)
                D = self.lm.n_embd  # rows at token positions are not read
                s.eval(toks, [0.0] * D + list(prefix) + [0.0] * D * (len(toks) - 3))
                self.assertEqual(s.generate(max_tokens=6, stop_at_eot=False), got)
                s.truncate(0, 0)
                scores = pr.score(s, [" dax", " blicket", ""])
                self.assertEqual(scores[2], 0.0)
                self.assertEqual(s.seq_len(0), len(toks))
                for cand, sc in zip([" dax", " blicket"], scores):
                    self.assertTrue(close_enough(s.score(cand).total, sc, 1e-6), cand)
                # per-image encoder override equals a prompt built with that encoder
                with frozen.Prompt(self.lm) as bare:
                    bare.add_image(self.IMG, vision=self.v, projector=self.p)
                    self.assertEqual(list(bare.embedding(0)) + list(bare.embedding(1)), list(prefix))
                    with self.assertRaises(frozen.InvalidArgumentError):
                        bare.add_image(self.IMG)  # no encoder of its own
                # blind: a black image's prefix
                with frozen.Prompt(self.lm, self.v, self.p, blind=True) as blind:
                    blind.add_image(self.IMG)
                    black = frozen.image_prefix(self.v, self.p, memoryview(bytes(32 * 32 * 3)).cast("B", (32, 32, 3)))
                    for a, b in zip(list(blind.embedding(0)) + list(blind.embedding(1)), black):
                        self.assertTrue(close_enough(a, b, 1e-5))

    def test_prompt_eval_range_and_newline_stop(self):
        with frozen.Prompt(self.lm).add_text("Hello, my dog is") as pr, self.lm.session(max_seqs=2) as s:
            n = len(pr)
            pr.eval(s, seq=0, n=2)
            pr.eval(s, seq=0, first=2)
            self.assertEqual(s.seq_len(0), n)
            s.copy_seq(0, 1)
            a = s.generate(seq=1, max_tokens=8)
            s.truncate(0, 0)
            b = pr.generate(s, seq=0, max_tokens=8)
            self.assertEqual(a, b)
            s.truncate(0, 0)
            c = pr.generate(s, seq=0, max_tokens=40, stop_newline=True, stop_at_eot=False)
            self.assertNotIn("\n", self.lm.detokenize(c))
            with self.assertRaises(frozen.ContextFullError):
                frozen.Prompt(self.lm).add_text("x" * 200)


# ---- training ----------------------------------------------------------------------------------------------------


COLOURS = [("red", (255, 0, 0), "a red circle"), ("green", (0, 255, 0), "a green square"),
           ("blue", (0, 0, 255), "a blue triangle"), ("white", (255, 255, 255), "a white heart")]
TINY = dict(vision_arch="tiny", vision_width=0.0625, image_size=24, batch_size=2, lr=1e-3, n_threads=1, seed=7,
            val_fraction=0)


class TestTrain(TempDir):
    def setUp(self):
        super().setUp()
        lines = []
        for name, rgb, caption in COLOURS:
            write_png(os.path.join(self.tmp, name + ".png"), 24, 24, rgb)
            lines.append("%s.png\t%s\n" % (name, caption))
        self.data = os.path.join(self.tmp, "data.tsv")
        with open(self.data, "w") as f:
            f.writelines(lines)
        self.lm = frozen.LM(SMALL_LM)
        self.addCleanup(self.lm.close)

    def run_dir(self, name):
        return pathlib.Path(self.tmp) / name

    def ckpt_step(self, run):
        _, meta = read_safetensors(os.path.join(run, "checkpoint.safetensors"))
        return int(meta["frozen.train.step"])

    def test_progress_abort_checkpoint_and_resume(self):
        # uninterrupted: 6 steps
        full = []
        self.assertTrue(frozen.train(self.lm, self.data, self.run_dir("a"), progress=lambda p: full.append(p),
                                     max_steps=6, **TINY))
        self.assertEqual([p.step for p in full], [1, 2, 3, 4, 5, 6])
        self.assertTrue(all(p.total_steps == 6 and p.n_train == 4 and math.isfinite(p.loss) for p in full))
        self.assertTrue((self.run_dir("a") / "metrics.csv").exists())

        # the progress callback asks to stop after step 2: a clean stop, checkpoint of step 2
        part = []
        with frozen.Trainer(self.lm, self.data, self.run_dir("b"), max_steps=6, **TINY,
                            progress=lambda p: part.append(p) or p.step == 2) as t:
            self.assertFalse(t.run())
            self.assertEqual(t.progress().step, 2)
        self.assertEqual([p.step for p in part], [1, 2])
        self.assertEqual(self.ckpt_step(self.run_dir("b")), 2)
        for f in ("vision.safetensors", "projector.safetensors"):
            self.assertTrue((self.run_dir("b") / f).exists(), f)
        # resumed, it gives the losses the uninterrupted run gave
        rest = []
        self.assertTrue(frozen.train(self.lm, self.data, self.run_dir("b"), progress=rest.append, resume=True,
                                     max_steps=6, **TINY))
        self.assertEqual([p.step for p in rest], [3, 4, 5, 6])
        self.assertEqual([p.loss for p in part + rest], [p.loss for p in full])
        self.assertEqual(self.ckpt_step(self.run_dir("b")), 6)

        # the trained model captions through the Python side too
        with frozen.Vision(self.run_dir("b") / "vision.safetensors") as v, \
                frozen.Projector(self.run_dir("b") / "projector.safetensors") as p, self.lm.session() as s:
            self.assertIsInstance(s.caption(v, p, os.path.join(self.tmp, "red.png"), max_tokens=4), str)

    def test_a_raising_callback_stops_cleanly(self):
        def progress(p):
            if p.step == 1:
                raise RuntimeError("stop here")
        with self.assertRaises(RuntimeError):
            frozen.train(self.lm, self.data, self.run_dir("c"), progress=progress, max_steps=5, **TINY)
        self.assertEqual(self.ckpt_step(self.run_dir("c")), 1)
        # the abort callback alone stops it too
        steps = []
        ok = frozen.train(self.lm, self.data, self.run_dir("d"), progress=steps.append,
                          abort=lambda: len(steps) >= 3, max_steps=5, **TINY)
        self.assertFalse(ok)
        self.assertEqual(self.ckpt_step(self.run_dir("d")), 3)

    def test_lr_decay_reaches_the_library(self):
        # the field appended last in frz_train_params: 4 steps, the last half cooling down (step s of 4 at
        # lr (1 - (s-1)/4) / 0.5 from s = 3), as the library reports the rate each step used
        seen = []
        self.assertTrue(frozen.train(self.lm, self.data, self.run_dir("g"), progress=seen.append, max_steps=4,
                                     lr_decay=0.5, **TINY))
        want = [1e-3, 1e-3, 1e-3, 0.5e-3]
        self.assertEqual(len(seen), 4)
        for p, w in zip(seen, want):
            self.assertAlmostEqual(p.lr, w, delta=1e-9)

    def test_bad_data_and_parameters(self):
        bad = os.path.join(self.tmp, "bad.tsv")
        with open(bad, "w") as f:
            f.write("red.png a caption without a tab\n")
        with self.assertRaises(frozen.FrozenError) as cm:
            frozen.Trainer(self.lm, bad, self.run_dir("e"), **TINY)
        self.assertIn("bad.tsv", cm.exception.message)
        with self.assertRaises(frozen.InvalidArgumentError) as cm:
            frozen.Trainer(self.lm, self.data, self.run_dir("f"), **dict(TINY, batch_size=0))
        self.assertIn("batch_size", cm.exception.message)


# ---- training a tokenizer, random models, pretraining ------------------------------------------------------------

FACTS = ["red apples grow on trees", "yellow bananas are long", "green limes taste sour", "purple grapes make wine"]


def mean_std(values):
    m = sum(values) / len(values)
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / len(values))


class TestLMTraining(TempDir):
    def setUp(self):
        super().setUp()
        # the CLI test's tokenizer corpus: samples with a TAB, each followed by three newlines
        self.tok_corpus = os.path.join(self.tmp, "tok-corpus.txt")
        with open(self.tok_corpus, "w") as f:
            for i in range(40):
                f.write("a small red circle on the left\tQuestion: What colour is the shape? Answer: red %d\n\n\n" % i)
        # 64 samples, four facts: after a fact's first word the rest is determined
        self.corpus = os.path.join(self.tmp, "facts.txt")
        with open(self.corpus, "w") as f:
            f.writelines(FACTS[(i * 7 + i // 3) % 4] + "\n" for i in range(64))

    def cli(self, *args):
        if not os.access(CLI, os.X_OK):
            self.skipTest("bin/frozen is not built")
        r = subprocess.run([CLI] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def assert_same_files(self, a, b, names=("vocab.json", "merges.txt")):
        for name in names:
            self.assertEqual(read_bytes(os.path.join(a, name)), read_bytes(os.path.join(b, name)), name)

    def logits_all(self, lm, ids):
        with lm.session(threads=1) as s:
            rows = s.eval(ids, logits="all")
            return [list(s.logits(r)) for r in range(rows)]

    # -- tokenizer training
    def test_tokenizer_train_equals_the_cli(self):
        for extra, kw in (([], {}), (["--tab-segments"], dict(tab_segments=True)),
                          (["--min-frequency", "50"], dict(min_frequency=50))):
            mine, cli = os.path.join(self.tmp, "py" + "".join(extra)), os.path.join(self.tmp, "cli" + "".join(extra))
            stats = frozen.tokenizer_train(self.tok_corpus, mine, vocab_size=300, n_threads=1, **kw)
            self.cli("tokenizer-train", "--data", self.tok_corpus, "--out", cli, "--vocab-size", "300",
                     "--threads", "1", *extra)
            self.assert_same_files(mine, cli)
            # the stats describe the files written
            with open(os.path.join(mine, "vocab.json"), encoding="utf-8") as f:
                vocab = json.load(f)
            merges = read_bytes(os.path.join(mine, "merges.txt")).decode().split("\n")
            self.assertEqual(merges[0], "#version: 0.2")
            self.assertEqual(stats.n_vocab, len(vocab))
            self.assertEqual(stats.n_merges, len(merges) - 2)  # the version line, the final newline
            self.assertEqual(vocab["<|endoftext|>"], len(vocab) - 1)
            self.assertEqual(stats.n_bytes, os.path.getsize(self.tok_corpus))
            self.assertTrue(0 < stats.n_unique_words < stats.n_words)
            if not kw:
                self.assertEqual((stats.n_vocab, stats.n_merges), (300, 43))  # as tests/cli_test.sh finds
            if "min_frequency" in kw:  # a pair seen fewer than 50 times is never merged
                self.assertGreaterEqual(stats.last_count, 50)
                self.assertLess(stats.n_vocab, 300)
        # --tab-segments changes the files (the CLI test's finding), so the comparison above could fail
        self.assertNotEqual(read_bytes(os.path.join(self.tmp, "py", "merges.txt")),
                            read_bytes(os.path.join(self.tmp, "py--tab-segments", "merges.txt")))

    def test_tokenizer_train_errors_and_abort(self):
        with self.assertRaises(frozen.InvalidArgumentError) as cm:
            frozen.tokenizer_train(self.tok_corpus, os.path.join(self.tmp, "a"), vocab_size=256)
        self.assertIn("vocab_size", cm.exception.message)
        with self.assertRaises(frozen.IOFailure) as cm:
            frozen.tokenizer_train(os.path.join(self.tmp, "no-such.txt"), os.path.join(self.tmp, "a"), vocab_size=300)
        self.assertIn("no-such.txt", cm.exception.message)
        with self.assertRaises(TypeError):
            frozen.tokenizer_train(self.tok_corpus, os.path.join(self.tmp, "a"), vocab=300)
        calls = []
        with self.assertRaises(frozen.CancelledError):
            frozen.tokenizer_train(self.tok_corpus, os.path.join(self.tmp, "a"), vocab_size=300,
                                   abort=lambda: calls.append(1) or True)
        self.assertTrue(calls)
        with self.assertRaises(ZeroDivisionError):  # a raising abort callback stops it, and its error comes out
            frozen.tokenizer_train(self.tok_corpus, os.path.join(self.tmp, "a"), vocab_size=300, abort=lambda: 1 / 0)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "a", "vocab.json")))  # nothing written

    # -- random models
    def test_random_lm_saves_and_loads_to_the_same_logits(self):
        tok = os.path.join(self.tmp, "tok")
        frozen.tokenizer_train(self.tok_corpus, tok, vocab_size=300)
        cfg = dict(n_layer=2, n_head=2, n_embd=16, n_ctx=32)
        ids = [5, 77, 120, 299, 3, 42]
        with frozen.LM.create_random(tok, seed=5, **cfg) as lm:
            self.assertEqual((lm.n_layer, lm.n_head, lm.n_embd, lm.n_ctx, lm.n_vocab, lm.eot_token),
                             (2, 2, 16, 32, 300, 299))
            before = self.logits_all(lm, ids)
            lm.save(os.path.join(self.tmp, "m"))
        self.assert_same_files(tok, os.path.join(self.tmp, "m"))
        with frozen.LM(os.path.join(self.tmp, "m")) as back:
            self.assertEqual(self.logits_all(back, ids), before)
        with open(os.path.join(self.tmp, "m", "config.json")) as f:
            config = json.load(f)
        self.assertEqual((config["n_layer"], config["n_head"], config["n_embd"], config["n_positions"],
                          config["vocab_size"]), (2, 2, 16, 32, 300))
        # GPT-2's initialisation, read from the saved file: N(0, 0.02), residual projections 0.02 / sqrt(2 n_layer)
        w, _ = read_safetensors(os.path.join(self.tmp, "m", "model.safetensors"))
        self.assertEqual(w["wte.weight"][0], [300, 16])
        for name, want in (("wte.weight", 0.02), ("h.0.attn.c_attn.weight", 0.02), ("h.1.mlp.c_fc.weight", 0.02),
                           ("h.0.attn.c_proj.weight", 0.01), ("h.1.mlp.c_proj.weight", 0.01)):
            m, sd = mean_std(w[name][1])
            self.assertLess(abs(m), 0.003, name)
            self.assertLess(abs(sd - want), 0.15 * want, name)
        self.assertEqual(set(w["h.0.ln_1.weight"][1]), {1.0})
        self.assertEqual(set(w["h.0.attn.c_attn.bias"][1]), {0.0})
        # the seed decides the weights
        with frozen.LM.create_random(tok, seed=5, **cfg) as same, frozen.LM.create_random(tok, seed=6, **cfg) as other:
            self.assertEqual(self.logits_all(same, ids), before)
            self.assertNotEqual(self.logits_all(other, ids), before)
        # an untied head: the same body, a head of its own, saved as lm_head.weight and read back as such
        with frozen.LM.create_random(tok, seed=5, untied_head=1, **cfg) as untied:
            untied_logits = self.logits_all(untied, ids)
            self.assertNotEqual(untied_logits, before)
            untied.save(os.path.join(self.tmp, "u"))
        wu, _ = read_safetensors(os.path.join(self.tmp, "u", "model.safetensors"))
        self.assertEqual(wu["lm_head.weight"][0], [300, 16])
        self.assertEqual(wu["wte.weight"][1], w["wte.weight"][1])  # the tied model's, read above
        with open(os.path.join(self.tmp, "u", "config.json")) as f:
            self.assertIs(json.load(f)["tie_word_embeddings"], False)
        with frozen.LM(os.path.join(self.tmp, "u")) as back:
            self.assertEqual(self.logits_all(back, ids), untied_logits)
        with self.assertRaises(frozen.InvalidArgumentError) as cm:
            frozen.LM.create_random(tok, n_head=3, n_embd=16)
        self.assertIn("n_head", cm.exception.message)
        with self.assertRaises(TypeError):
            frozen.LM.create_random(tok, layers=2)

    # -- pretraining
    def tiny_lm(self, seed=5):
        return frozen.LM.create_random(SMALL_LM, seed=seed, n_layer=1, n_head=2, n_embd=16, n_ctx=16)

    TINY_PRETRAIN = dict(steps=20, batch_size=8, lr=1e-2, warmup=2, val_fraction=0.1, val_every=10, seed=3,
                         n_threads=1)

    def test_pretraining_reduces_the_loss(self):
        seen = []
        out = os.path.join(self.tmp, "lm")
        with self.tiny_lm() as lm:
            with frozen.Pretrainer(lm, self.corpus, out, progress=seen.append, **self.TINY_PRETRAIN) as t:
                self.assertTrue(t.run())
                self.assertEqual(t.progress().step, 20)
            self.assertEqual([p.step for p in seen], list(range(1, 21)))
            last = seen[-1]
            self.assertTrue(all(p.total_steps == 20 for p in seen))
            self.assertEqual(last.n_train + last.n_val, 64)
            # a fresh model is near uniform over the 457 ids; after 20 steps the loss is far lower
            self.assertLess(abs(seen[0].loss - math.log(457)), 0.1, seen[0].loss)
            first5, last5 = (sum(p.loss for p in seen[:5]) / 5, sum(p.loss for p in seen[-5:]) / 5)
            self.assertLess(last5, first5 - 1.0, (first5, last5))
            self.assertTrue(0 < last.val_loss < seen[0].loss)
            # metrics.csv lists the losses the callback saw
            with open(os.path.join(out, "metrics.csv")) as f:
                rows = [r.split(",") for r in f.read().split("\n")[1:] if r]
            self.assertEqual([int(r[0]) for r in rows], list(range(1, 21)))
            for r, p in zip(rows, seen):
                self.assertTrue(close_enough(float(r[2]), p.loss, 1e-5), (r, p.loss))
            self.assertTrue(os.path.getsize(os.path.join(out, "loss.png")) > 100)
            # trained in place, and saved: the folder loads to the same logits
            ids = lm.tokenize("green limes taste")
            trained = self.logits_all(lm, ids)
        with frozen.LM(out) as back:
            self.assertEqual(self.logits_all(back, ids), trained)

    def test_pretraining_stops_on_request_with_the_model_saved(self):
        full = []
        with self.tiny_lm() as lm:
            self.assertTrue(frozen.pretrain(lm, self.corpus, os.path.join(self.tmp, "full"), progress=full.append,
                                            **self.TINY_PRETRAIN))
        ids = [10, 20, 30]
        for how in ("progress", "abort", "raise"):
            seen, out = [], os.path.join(self.tmp, how)

            def progress(p):
                seen.append(p)
                if how == "raise" and p.step == 3:
                    raise KeyError("stop")
                return how == "progress" and p.step == 3

            with self.tiny_lm() as lm:
                kw = dict(progress=progress, abort=(lambda: len(seen) >= 3) if how == "abort" else None)
                if how == "raise":
                    with self.assertRaises(KeyError):
                        frozen.pretrain(lm, self.corpus, out, **kw, **self.TINY_PRETRAIN)
                else:
                    self.assertFalse(frozen.pretrain(lm, self.corpus, out, **kw, **self.TINY_PRETRAIN))
                self.assertEqual([p.step for p in seen], [1, 2, 3], how)
                # the same losses as the uninterrupted run, step for step
                self.assertEqual([p.loss for p in seen], [p.loss for p in full[:3]], how)
                stopped = self.logits_all(lm, ids)
            with frozen.LM(out) as back:  # the model as it was after step 3
                self.assertEqual(self.logits_all(back, ids), stopped, how)
            with frozen.LM(os.path.join(self.tmp, "full")) as done:
                self.assertNotEqual(self.logits_all(done, ids), stopped, how)
        # resumed (resume=True, the model from the stopped run's folder): the uninterrupted run's losses and model
        rest, out = [], os.path.join(self.tmp, "progress")
        with frozen.LM(out) as lm:
            self.assertTrue(frozen.pretrain(lm, self.corpus, out, progress=rest.append, resume=True,
                                            **self.TINY_PRETRAIN))
            self.assertEqual([p.step for p in rest], list(range(4, 21)))
            self.assertEqual([p.loss for p in rest], [p.loss for p in full[3:]])
            resumed = self.logits_all(lm, ids)
        with frozen.LM(os.path.join(self.tmp, "full")) as done:
            self.assertEqual(self.logits_all(done, ids), resumed)
        self.assertFalse(os.path.exists(os.path.join(out, "pretrain-checkpoint.safetensors")))

    def test_pretraining_errors(self):
        bad = os.path.join(self.tmp, "bad.txt")
        with open(bad, "wb") as f:
            f.write(b"fine line\nbad \xff byte\n")
        with self.tiny_lm() as lm:
            with self.assertRaises(frozen.FormatError) as cm:
                frozen.Pretrainer(lm, bad, os.path.join(self.tmp, "o"), steps=1)
            self.assertIn("bad.txt:2", cm.exception.message)
            with self.assertRaises(frozen.InvalidArgumentError) as cm:
                frozen.Pretrainer(lm, self.corpus, os.path.join(self.tmp, "o"), context=17)
            self.assertIn("context", cm.exception.message)
            with self.assertRaises(TypeError):
                frozen.Pretrainer(lm, self.corpus, os.path.join(self.tmp, "o"), max_steps=3)
            # a pretrainer keeps its model alive; closing the model closes the pretrainer first
            t = frozen.Pretrainer(lm, self.corpus, os.path.join(self.tmp, "o"), steps=1)
            lm.close()
            self.assertTrue(t.closed)
            with self.assertRaises(ValueError):
                t.run()


# ---- logging -----------------------------------------------------------------------------------------------------


class TestLogging(TempDir):
    def tearDown(self):
        frozen.set_log_callback(None)
        super().tearDown()

    def test_callback_and_logging(self):
        got = []
        frozen.set_log_callback(lambda level, text: got.append((level, text)), frozen.LogLevel.DEBUG)
        frozen.LM(SMALL_LM).close()
        self.assertTrue(any(lv == frozen.LogLevel.INFO and "gpt2-f32" in t for lv, t in got), got)
        self.assertTrue(all(isinstance(lv, frozen.LogLevel) for lv, _ in got))

        records = []

        class Catch(logging.Handler):
            def emit(self, record):
                records.append(record)
        logger = logging.getLogger("frozen.test")
        logger.setLevel(logging.INFO)
        logger.addHandler(Catch())
        logger.propagate = False
        frozen.log_to_logging(logger)
        frozen.LM(SMALL_LM).close()
        self.assertTrue(any(r.levelno == logging.INFO and "gpt2-f32" in r.getMessage() for r in records))

        frozen.set_log_callback(None)
        n = len(got) + len(records)
        frozen.LM(SMALL_LM).close()
        self.assertEqual(len(got) + len(records), n)

    def test_a_raising_log_callback_is_harmless(self):
        def bad(level, text):
            raise RuntimeError("nope")
        frozen.set_log_callback(bad)
        with frozen.LM(SMALL_LM) as lm:
            self.assertEqual(lm.n_layer, 2)


def main():
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    if result.skipped:
        print("python: %d skipped (%s)" % (len(result.skipped), "; ".join(sorted({r for _, r in result.skipped}))))
    print("python: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
