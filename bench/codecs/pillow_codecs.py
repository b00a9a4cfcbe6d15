#!/usr/bin/env python3
"""Pillow's side of bench/codecs/run: the same encodes, decodes and resizes as kontext-bench-codecs,
with settings matched to Kontext's encoders (quality 90 with 4:4:4 chroma and optimised Huffman
tables for JPEG, WebP method 4, AVIF speed 8 with 4:4:4, PNG zlib level 6, GIF median cut; Pillow's
quantize() does not dither, so neither side dithers). Writes the encoded files into OUT for the
Swift side to decode.
Usage: pillow_codecs.py PHOTO.png OUT [runs]"""
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from PIL import Image

photo_path, out = sys.argv[1], Path(sys.argv[2])
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
out.mkdir(parents=True, exist_ok=True)
photo = Image.open(photo_path).convert("RGB")


def median_ms(body):
    body()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def encoder(format):
    def encode():
        buffer = io.BytesIO()
        if format == "png":
            photo.save(buffer, "PNG", compress_level=6)
        elif format == "jpeg":
            photo.save(buffer, "JPEG", quality=90, subsampling=0, optimize=True)
        elif format == "webp":
            photo.save(buffer, "WEBP", quality=90, method=4)
        elif format == "gif":
            photo.quantize(256, method=Image.Quantize.MEDIANCUT).save(buffer, "GIF")
        elif format == "avif":
            photo.save(buffer, "AVIF", quality=90, speed=8, subsampling="4:4:4")
        return buffer.getvalue()
    return encode


for format in ["png", "jpeg", "webp", "gif", "avif"]:
    encode = encoder(format)
    encode_ms = median_ms(encode)
    data = encode()
    (out / f"photo.{format}").write_bytes(data)
    decode_ms = median_ms(lambda: Image.open(io.BytesIO(data)).convert("RGB"))
    error = np.mean((np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64) - np.asarray(photo, dtype=np.float64)) ** 2)
    psnr = 99.0 if error == 0 else min(99.0, 10 * np.log10(255 ** 2 / error))  # 99: lossless
    print(json.dumps({"format": format, "encode_ms": encode_ms, "decode_ms": decode_ms, "bytes": len(data), "psnr_db": psnr}))
for width, height in [(512, 512), (1184, 880), (2048, 2048)]:
    print(json.dumps({"resize": f"{width}x{height}", "ms": median_ms(lambda: photo.resize((width, height), Image.LANCZOS))}))
