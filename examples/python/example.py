#!/usr/bin/env python3
"""example.py -- a tour of the Python binding: generate, score, prompt with an image, train, caption.

    python3 examples/python/example.py [--lm DIR] [--image FILE] [--steps N]

Defaults: the demo LM (models/demo-tiny), a fixture image, 150 training steps of a tiny encoder on four
solid-colour images (a few seconds on a CPU). Ctrl-C during training stops it cleanly (checkpoint written).
"""

import argparse
import logging
import os
import sys
import tempfile
import zlib
import struct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import frozen  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir))


def solid_png(path, rgb, size=24):
    """A solid-colour PNG written with the standard library."""
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--lm", default=os.path.join(REPO, "models", "demo-tiny"))
    ap.add_argument("--image", default=os.path.join(REPO, "tests", "fixtures", "eval", "episodes", "img", "dax1.jpg"))
    ap.add_argument("--steps", type=int, default=150)
    args = ap.parse_args()

    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")
    frozen.log_to_logging("frozen")  # the library's warnings and errors through Python's logging
    print("libfrozen %s (%s), BLAS core %s" % (frozen.version(), frozen.library_path, frozen.blas_corename()))
    if frozen.blas_advice():
        print("advice:", frozen.blas_advice())

    with frozen.LM(args.lm) as lm, lm.session(threads=2, seed=7) as s:
        print(lm)
        prompt = "Question: What is a kite made of? Answer:"
        print("tokens:", lm.tokenize(prompt))

        # greedy, streamed token by token
        s.eval(lm.tokenize(prompt), logits="none")
        sys.stdout.write("greedy: " + prompt)
        s.generate(max_tokens=24, stop="\n",
                   on_token=lambda t: sys.stdout.write(lm.detokenize([t])) and sys.stdout.flush() and False)
        print()
        print("sampled:", repr(s.complete("A small red", max_tokens=30, temperature=0.8, top_k=40)))

        # which continuation is likelier?
        s.truncate(0, 0)
        s.eval(lm.tokenize("The sky is"), logits="none")
        for cont in (" blue", " green"):
            print("log p(%r | 'The sky is') = %.3f" % (cont, s.score(cont).total))

        # a visual prefix: an (untrained) encoder and projector put an image into the prompt
        vision = frozen.Vision.create("tiny", width=0.0625, image_size=24, seed=1)
        projector = frozen.Projector.create(vision.n_features, 2, lm.n_embd, seed=1)
        with frozen.Prompt(lm, vision, projector) as pr:
            pr.add_image(args.image).add_text(" This is a")
            print("prompt positions:", pr.tokens(), "segments:", pr.segments())
            s.truncate(0, 0)
            print("with an image:", repr(pr.generate_text(s, max_tokens=8, stop_newline=True)))
            s.truncate(0, 0)
            print("scores:", pr.score(s, [" dax", " blicket"]))

        # train the encoder and projector to caption four colours through the frozen LM
        with tempfile.TemporaryDirectory() as tmp:
            colours = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255)}
            with open(os.path.join(tmp, "data.tsv"), "w") as f:
                for name, rgb in colours.items():
                    solid_png(os.path.join(tmp, name + ".png"), rgb)
                    f.write("%s.png\ta %s square\n" % (name, name))

            def progress(p):
                print("step %3d/%d  loss %.3f  %.0f images/s" % (p.step, p.total_steps, p.loss, p.images_per_s))

            run = os.path.join(tmp, "run")
            try:
                done = frozen.train(lm, os.path.join(tmp, "data.tsv"), run, progress=progress,
                                    vision_arch="tiny", vision_width=0.0625, image_size=24, batch_size=4,
                                    prefix_tokens=2, lr=1e-3, val_fraction=0, max_steps=args.steps, n_threads=2)
                print("training", "done" if done else "stopped")
            except KeyboardInterrupt:
                print("\ninterrupted: the checkpoint in the run folder holds the last step")
            with frozen.Vision(os.path.join(run, "vision.safetensors")) as v, \
                    frozen.Projector(os.path.join(run, "projector.safetensors")) as p:
                for name in colours:
                    print("caption of %s.png: %r" % (name, s.caption(v, p, os.path.join(tmp, name + ".png"),
                                                                     max_tokens=8)))


if __name__ == "__main__":
    try:
        main()
    except frozen.FrozenError as e:
        sys.exit("example: %s" % e)
