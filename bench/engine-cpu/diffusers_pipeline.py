#!/usr/bin/env python3
"""diffusers' side of bench/engine-cpu/run: FluxKontextPipeline on the same tiny checkpoint, input
image, size, steps and seed as kontext-bench-engine, float32 on the CPU. Prints one JSON object
per mode: seconds per image (median after a warm-up), load time, peak resident memory.
Usage: diffusers_pipeline.py MODEL_DIR INPUT_IMAGE SIZE STEPS RUNS"""
import json
import resource
import statistics
import sys
import time

import torch
from diffusers import FluxKontextPipeline
from diffusers.utils import logging
from PIL import Image

logging.set_verbosity_error()
model, image_path, size, steps, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
start = time.perf_counter()
pipe = FluxKontextPipeline.from_pretrained(model, torch_dtype=torch.float32)
pipe.set_progress_bar_config(disable=True)
load_seconds = time.perf_counter() - start
image = Image.open(image_path).convert("RGB")

for mode in ["t2i", "edit"]:
    def run():
        pipe(image=image if mode == "edit" else None, prompt="a lighthouse on a cliff at dusk", height=size, width=size,
             max_area=size * size, num_inference_steps=steps, guidance_scale=2.5, generator=torch.Generator().manual_seed(42),
             output_type="pil", _auto_resize=False)
    run()
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        run()
        times.append(time.perf_counter() - begin)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "seconds_per_image": statistics.median(times), "load_seconds": load_seconds, "peak_mb": peak}))
