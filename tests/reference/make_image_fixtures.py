#!/usr/bin/python3
"""Writes tests/fixtures/images/: small PNG and JPEG files in every variant the decoder supports, each with the
RGB8 pixels an independent decoder (Pillow) gives after compositing alpha on black, plus Pillow's resize of
zero-padded images as the reference for the preprocessing.

Run from anywhere with Debian's Python (python3-pil, python3-numpy):
    /usr/bin/python3 tests/reference/make_image_fixtures.py

Conventions checked by tests/check_image.c (and stated in src/image/image.h):
  * alpha on black: out = round(c * a / max), one rounding at the source depth (max = 255 or 65535);
  * 16-bit samples: round(v * 255 / 65535);
  * CMYK: R = round((255 - C) * (255 - K) / 255), C and K as ink amounts (Pillow takes every CMYK JPEG as
    Adobe-inverted, with or without the APP14 marker, and so do we);
  * padding: centred in a max(w, h) square, the odd pixel on the right / bottom;
  * resize: Pillow's Image.resize on mode "F" (float, no rounding, no clamping) per channel.
Files Pillow cannot write (16-bit colour, 2-bit gray, Adam7 interlace) come from the small PNG writer below;
Pillow still decodes each of them and the script asserts that it agrees with the source arrays.
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, __version__ as PIL_VERSION

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "images")
W, H = 13, 9  # odd sizes: partial MCUs, partial Adam7 blocks, odd padding
rng = np.random.default_rng(20240601)

# ---- a minimal PNG writer (independent of libpng) ----------------------------------------------------------

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def pack_rows(samples, depth):
    """samples (h, w, c) integers -> scanlines with filter byte 0 (None)."""
    h, w, c = samples.shape
    out = bytearray()
    for y in range(h):
        out.append(0)
        row = samples[y].reshape(-1)
        if depth == 16:
            out += row.astype(">u2").tobytes()
        elif depth == 8:
            out += row.astype(np.uint8).tobytes()
        else:  # 1, 2, 4 bits, most significant first, rows padded to a byte
            per = 8 // depth
            vals = list(row) + [0] * ((-len(row)) % per)
            for i in range(0, len(vals), per):
                b = 0
                for v in vals[i:i + per]:
                    b = (b << depth) | int(v)
                out.append(b)
    return bytes(out)


def write_png(samples, color_type, depth, interlace=False, plte=None, trns=None):
    h, w, _ = samples.shape
    if interlace:
        raw = b"".join(pack_rows(samples[y0::dy, x0::dx], depth)
                       for x0, y0, dx, dy in ADAM7 if samples[y0::dy, x0::dx].size)
    else:
        raw = pack_rows(samples, depth)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0,
                                                             1 if interlace else 0))
    if plte is not None:
        png += chunk(b"PLTE", bytes(np.asarray(plte, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        png += chunk(b"tRNS", trns)
    return png + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# ---- expected pixels -------------------------------------------------------------------------------------------


def div_round(num, den):
    """round(num / den) for non-negative integers and odd den (no ties), written differently from the C."""
    return (2 * num + den) // (2 * den)


def composite8(rgba):
    rgba = rgba.astype(np.int64)
    return div_round(rgba[..., :3] * rgba[..., 3:4], 255).astype(np.uint8)


def from16(v, a=None):
    v = v.astype(np.int64)
    if a is None:
        return div_round(v * 255, 65535).astype(np.uint8)
    return div_round(v * a.astype(np.int64)[..., None] * 255, 65535 * 65535).astype(np.uint8)


def pillow_rgb(data):
    """Pillow's decode, alpha (and tRNS) composited on black, as RGB8."""
    im = Image.open(io.BytesIO(data))
    im.load()
    if im.mode == "CMYK":
        cmyk = np.asarray(im).astype(np.int64)
        return div_round((255 - cmyk[..., :3]) * (255 - cmyk[..., 3:4]), 255).astype(np.uint8)
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        return composite8(np.asarray(im.convert("RGBA")))
    return np.asarray(im.convert("RGB"))


def save_pillow(im, **kw):
    buf = io.BytesIO()
    im.save(buf, **kw)
    return buf.getvalue()


def strip_app14(jpeg):
    """Removes the Adobe APP14 segment (FF EE), leaving CMYK data without the marker that says it is inverted."""
    i = 2
    out = jpeg[:2]
    while True:
        assert jpeg[i] == 0xFF
        marker, seglen = jpeg[i + 1], struct.unpack(">H", jpeg[i + 2:i + 4])[0]
        if marker == 0xDA:  # start of scan: the rest is entropy data
            return out + jpeg[i:]
        if marker != 0xEE:
            out += jpeg[i:i + 2 + seglen]
        i += 2 + seglen


# ---- the variants ----------------------------------------------------------------------------------------------


def variants():
    """(name, bytes, expected RGB8 (H, W, 3), tolerance, note)."""
    v = []
    gray8 = rng.integers(0, 256, (H, W), dtype=np.uint8)
    rgb8 = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    alpha8 = rng.integers(0, 256, (H, W), dtype=np.uint8)
    alpha8[0, :4] = [0, 255, 1, 254]
    gray16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
    rgb16 = rng.integers(0, 65536, (H, W, 3), dtype=np.uint16)
    alpha16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
    alpha16[0, :4] = [0, 65535, 1, 65534]

    def add(name, data, note, tol=0, expect=None):
        got = pillow_rgb(data)
        if expect is not None:  # the source arrays and Pillow must agree, or the writer (or Pillow) is wrong
            assert np.array_equal(got, expect), name
        v.append((name, data, got if expect is None else expect, tol, note))

    # PNG written by Pillow
    add("png_gray1.png", save_pillow(Image.fromarray(gray8 > 127).convert("1"), format="PNG"), "gray, 1 bit")
    add("png_gray8.png", save_pillow(Image.fromarray(gray8, "L"), format="PNG"), "gray, 8 bit")
    g = gray8.copy()
    g[2, 3:7] = 77
    add("png_gray_trns.png", save_pillow(Image.fromarray(g, "L"), format="PNG", transparency=77), "gray + tRNS")
    add("png_graya8.png", save_pillow(Image.fromarray(np.dstack([gray8, alpha8]), "LA"), format="PNG"),
        "gray + alpha, 8 bit")
    for ncol, note in ((2, "palette, 1 bit"), (16, "palette, 4 bit"), (256, "palette, 8 bit")):
        p = Image.fromarray(rng.integers(0, ncol, (H, W)).astype(np.uint8), "P")
        p.putpalette(list(rng.integers(0, 256, 3 * ncol)))
        add("png_palette%d.png" % ncol, save_pillow(p, format="PNG"), note)
    p = Image.fromarray(rng.integers(0, 16, (H, W)).astype(np.uint8), "P")
    p.putpalette(list(rng.integers(0, 256, 48)))
    add("png_palette_trns.png", save_pillow(p, format="PNG", transparency=bytes(rng.integers(0, 256, 16).tolist())),
        "palette (4 bit) + tRNS alpha per entry")
    add("png_rgb8.png", save_pillow(Image.fromarray(rgb8, "RGB"), format="PNG"), "RGB, 8 bit")
    c = rgb8.copy()
    c[4, 2:9] = (10, 200, 30)
    add("png_rgb_trns.png", save_pillow(Image.fromarray(c, "RGB"), format="PNG", transparency=(10, 200, 30)),
        "RGB + tRNS colour key")
    add("png_rgba8.png", save_pillow(Image.fromarray(np.dstack([rgb8, alpha8]), "RGBA"), format="PNG"),
        "RGBA, 8 bit")
    g16 = save_pillow(Image.fromarray(gray16), format="PNG")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(g16))), gray16), "Pillow: 16-bit gray"
    v.append(("png_gray16.png", g16, np.repeat(from16(gray16)[..., None], 3, axis=2), 0, "gray, 16 bit (Pillow)"))

    # PNG from our writer: Pillow decodes 16-bit colour to its top byte, so the expectation is computed from the
    # source arrays after checking that Pillow's top bytes match them.
    def check_top_byte(data, src16):
        top = np.asarray(Image.open(io.BytesIO(data)))
        assert np.array_equal(top, (src16 >> 8).astype(np.uint8)), "Pillow disagrees with our PNG writer"

    gray2 = rng.integers(0, 4, (H, W, 1))
    add("png_gray2.png", write_png(gray2, 0, 2), "gray, 2 bit", expect=np.repeat(gray2 * 85, 3, 2).astype(np.uint8))
    gray4 = rng.integers(0, 16, (H, W, 1))
    add("png_gray4.png", write_png(gray4, 0, 4), "gray, 4 bit", expect=np.repeat(gray4 * 17, 3, 2).astype(np.uint8))
    data = write_png(np.dstack([gray16, alpha16]), 4, 16)
    check_top_byte(data, np.dstack([gray16, gray16, gray16, alpha16]))  # Pillow opens 16-bit LA as RGBA
    v.append(("png_graya16.png", data, np.repeat(from16(gray16[..., None], alpha16), 3, 2), 0,
              "gray + alpha, 16 bit"))
    data = write_png(rgb16, 2, 16)
    check_top_byte(data, rgb16)
    v.append(("png_rgb16.png", data, from16(rgb16), 0, "RGB, 16 bit"))
    data = write_png(np.dstack([rgb16, alpha16]), 6, 16)
    check_top_byte(data, np.dstack([rgb16, alpha16]))
    v.append(("png_rgba16.png", data, from16(rgb16, alpha16), 0, "RGBA, 16 bit"))
    data = write_png(np.dstack([rgb16, alpha16]), 6, 16, interlace=True)
    check_top_byte(data, np.dstack([rgb16, alpha16]))
    v.append(("png_adam7_rgba16.png", data, from16(rgb16, alpha16), 0, "RGBA, 16 bit, Adam7"))
    add("png_adam7_rgb8.png", write_png(rgb8, 2, 8, interlace=True), "RGB, 8 bit, Adam7", expect=rgb8)
    idx = rng.integers(0, 16, (H, W, 1))
    plte = rng.integers(0, 256, (16, 3))
    trns = rng.integers(0, 256, 16)
    add("png_adam7_palette_trns.png", write_png(idx, 3, 4, True, plte, bytes(trns.tolist())),
        "palette (4 bit) + tRNS, Adam7",
        expect=composite8(np.dstack([plte[idx[..., 0]], trns[idx[..., 0]]])))
    tiny = rng.integers(0, 256, (2, 3, 3))
    add("png_adam7_tiny.png", write_png(tiny, 2, 8, True), "3 x 2 RGB, Adam7 (passes 2, 3, 5 empty)",
        expect=tiny.astype(np.uint8))

    # JPEG written by Pillow (libjpeg-turbo); expected = Pillow's decode. Smooth content, as in photographs.
    yy, xx = np.mgrid[0:H, 0:W]
    photo = np.dstack([(xx * 19 + yy * 7) % 256, (yy * 27 + 40) % 256, 255 - xx * 15]).astype(np.uint8)
    photo = np.clip(photo.astype(int) + rng.integers(-20, 21, photo.shape), 0, 255).astype(np.uint8)
    jt = 2  # libjpeg builds may differ in rounding; Pillow uses the same IDCT (islow) and upsampling
    im = Image.fromarray(photo, "RGB")
    add("jpeg_baseline420.jpg", save_pillow(im, format="JPEG", quality=90), "baseline, 4:2:0", jt)
    add("jpeg_baseline444.jpg", save_pillow(im, format="JPEG", quality=90, subsampling=0), "baseline, 4:4:4", jt)
    add("jpeg_progressive.jpg", save_pillow(im, format="JPEG", quality=90, progressive=True), "progressive 4:2:0",
        jt)
    add("jpeg_gray.jpg", save_pillow(Image.fromarray(photo[..., 1], "L"), format="JPEG", quality=90), "grayscale",
        jt)
    cmyk = Image.fromarray(np.dstack([photo, photo[..., 0] // 2]).astype(np.uint8), "CMYK")
    adobe = save_pillow(cmyk, format="JPEG", quality=90)
    assert b"Adobe" in adobe
    add("jpeg_cmyk_adobe.jpg", adobe, "CMYK, Adobe APP14 (inverted samples)", jt)
    add("jpeg_cmyk_plain.jpg", strip_app14(adobe), "CMYK without APP14 (still taken as inverted)", jt)
    return v


# ---- preprocessing references ---------------------------------------------------------------------------------

FILTERS = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
           "lanczos3": Image.Resampling.LANCZOS}


def pillow_prep(rgb, size, filt):
    """Pad to a centred square with black (odd pixel right/bottom), resize each channel as mode "F": (3, R, R)."""
    h, w, _ = rgb.shape
    s = max(w, h)
    padded = np.zeros((s, s, 3), np.float32)
    padded[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = rgb
    return np.stack([np.asarray(Image.fromarray(padded[..., c], "F").resize((size, size), FILTERS[filt]))
                     for c in range(3)])


def smooth_rgb(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.dstack([128 + 100 * np.sin(xx / 3.1 + yy / 5.3), 128 + 90 * np.cos(xx / 4.7 - yy / 2.9),
                      (xx * 255 // max(w - 1, 1) + yy * 3) % 256])
    return np.clip(base + rng.integers(-30, 31, base.shape), 0, 255).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    manifest = {"generator": "tests/reference/make_image_fixtures.py", "pillow": PIL_VERSION,
                "decode": [], "resize": []}
    for name, data, expect, tol, note in variants():
        assert expect.dtype == np.uint8 and expect.shape[2] == 3
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        exp_name = os.path.splitext(name)[0] + ".rgb"
        with open(os.path.join(OUT, exp_name), "wb") as f:
            f.write(expect.tobytes())
        manifest["decode"].append({"file": name, "width": int(expect.shape[1]), "height": int(expect.shape[0]),
                                   "expected": exp_name, "tolerance": tol, "variant": note})

    # Resize references: a wide source (vertical padding 15: 7 above, 8 below) shrunk, a tall one (horizontal
    # padding 5: 2 left, 3 right) enlarged, each with every filter. Sources are PNG, so decoding is exact.
    for (w, h, size) in ((37, 22, 16), (9, 14, 20)):
        rgb = smooth_rgb(h, w)
        src = "prep_%dx%d.png" % (w, h)
        Image.fromarray(rgb, "RGB").save(os.path.join(OUT, src))
        for filt in FILTERS:
            exp = pillow_prep(rgb, size, filt).astype("<f4")
            exp_name = "prep_%dx%d_%s_%d.f32" % (w, h, filt, size)
            exp.tofile(os.path.join(OUT, exp_name))
            manifest["resize"].append({"source": src, "size": size, "filter": filt, "expected": exp_name})

    # A 640 x 480 photograph-like JPEG for the timing test; its reference is summarised (means and samples).
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    sky = np.dstack([90 + yy * 0.2, 140 + yy * 0.15, 230 - yy * 0.1])
    sun = ((xx - 470) ** 2 + (yy - 120) ** 2 < 60 ** 2)[..., None] * np.array([150, 100, -60])
    hill = (yy > 300 + 40 * np.sin(xx / 70.0))[..., None] * (np.array([40, 110, 40]) - sky)
    tex = rng.normal(0, 6, (h, w, 1))
    photo = np.clip(sky + sun + hill + tex, 0, 255).astype(np.uint8)
    data = save_pillow(Image.fromarray(photo, "RGB"), format="JPEG", quality=85)
    with open(os.path.join(OUT, "photo_640x480.jpg"), "wb") as f:
        f.write(data)
    dec = pillow_rgb(data)
    prep = pillow_prep(dec, 224, "bilinear")
    pts = rng.integers(0, [h, w], (64, 2))
    ppts = rng.integers(0, 224, (64, 3)) % [3, 224, 224]
    manifest["photo"] = {
        "file": "photo_640x480.jpg", "width": w, "height": h, "tolerance": 2,
        "mean_rgb": dec.reshape(-1, 3).mean(0).tolist(),
        "samples": [[int(y), int(x)] + dec[y, x].tolist() for y, x in pts],
        "prep_size": 224, "prep_filter": "bilinear", "prep_mean_chw": prep.reshape(3, -1).mean(1).tolist(),
        "prep_samples": [[int(c), int(y), int(x), float(prep[c, y, x])] for c, y, x in ppts],
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %d files, %d bytes, to %s (Pillow %s)" % (len(os.listdir(OUT)), total, OUT, PIL_VERSION))
    return 0


if __name__ == "__main__":
    sys.exit(main())
