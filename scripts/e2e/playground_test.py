#!/usr/bin/env python3
"""The playground in a real headless Chromium (Debian's `chromium`, driven by Playwright): load
the page from `kontext serve` with the tiny model, type a prompt, generate, wait for the image in
the gallery, check it, and save a screenshot.

Usage: playground_test.py KONTEXT_BINARY MODEL_DIR SCREENSHOT.png"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from playwright.sync_api import sync_playwright

binary, model, screenshot = sys.argv[1:4]
browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
if not browser_path:
    sys.exit("playground test: Debian's chromium is not installed (scripts/bootstrap installs it)")

data = tempfile.mkdtemp(prefix="kontext-playground-")
server = subprocess.Popen([binary, "serve", "--model", model, "--port", "0", "--dtype", "float32", "--device", "cpu", "--data-dir", data],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
try:
    url = None
    for line in server.stdout:
        if line.startswith("listening on "):
            url = line.split()[-1].strip()
            break
    assert url, "the server did not start"
    for _ in range(300):
        try:
            if urllib.request.urlopen(url + "/readyz").status == 200:
                break
        except OSError:
            time.sleep(0.1)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url + "/")
        assert page.title() == "Kontext playground", page.title()
        page.fill("#prompt", "a lighthouse on a cliff at dusk")
        page.select_option("#size", "256x256")
        page.fill("#steps", "8")
        page.fill("#seed", "42")
        page.click("#go")
        page.wait_for_selector("#gallery .card img", timeout=120_000)
        page.wait_for_function("document.querySelector('#gallery .card img').naturalWidth > 0", timeout=30_000)
        size = page.evaluate("[document.querySelector('#gallery .card img').naturalWidth, document.querySelector('#gallery .card img').naturalHeight]")
        assert size == [256, 256], size
        meta = page.inner_text("#gallery .card .meta")
        assert "seed 42" in meta and "256x256" in meta and "8 steps" in meta, meta
        assert "Done in" in page.inner_text("#status"), page.inner_text("#status")
        assert not errors, errors
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        page.screenshot(path=screenshot, full_page=True)
        browser.close()
    print(f"playground test passed; screenshot: {screenshot}")
finally:
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(data, ignore_errors=True)
