#!/usr/bin/env python3
"""End-to-end tests of `kontext serve`: the real binary on a loopback port with a tiny model,
called with the official `openai` package, curl and raw HTTP.

Usage: server_test.py KONTEXT_BINARY MODEL_DIR   (scripts/test runs it after `swift test`)
"""
import base64
import concurrent.futures
import http.server
import io
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import zlib

import openai
from PIL import Image

BINARY, MODEL = sys.argv[1], sys.argv[2]
SIZE_TABLE = {"1:1": (1024, 1024), "4:3": (1183, 887), "3:4": (887, 1182), "5:4": (1145, 916), "4:5": (916, 1145),
              "3:2": (1254, 836), "2:3": (836, 1254), "16:9": (1365, 768), "9:16": (768, 1365), "21:9": (1563, 670),
              "9:21": (670, 1564)}


class Server:
    """`kontext serve` on a free port, stopped with SIGTERM."""

    def __init__(self, *arguments, data=None):
        self.data = data or tempfile.mkdtemp(prefix="kontext-e2e-")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--model", MODEL, "--port", "0", "--dtype", "float32", "--device", "cpu", "--data-dir", self.data, *arguments],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.log = []
        for line in self.process.stdout:
            self.log.append(line)
            if line.startswith("listening on "):
                self.url = line.split()[-1].strip()
                break
        else:
            raise RuntimeError("the server did not start:\n" + "".join(self.log))
        threading.Thread(target=lambda: self.log.extend(self.process.stdout), daemon=True).start()
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if request("GET", self.url + "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the model did not load:\n" + "".join(self.log))

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.process.stdout.close()
        shutil.rmtree(self.data, ignore_errors=True)


def request(method, url, body=None, headers=None, timeout=120):
    """(status, headers, body bytes) without raising on HTTP errors."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post_json(url, payload, headers=None):
    return request("POST", url, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


def multipart(fields, files):
    """A multipart/form-data body: fields {name: text}, files [(name, filename, bytes)]."""
    boundary = "kontext-test-boundary-7f3a"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def png(width, height, colour=(200, 40, 40)):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def decoded(data):
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_bomb():
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))


class ServerTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--queue", "4")
        cls.client = openai.OpenAI(base_url=cls.server.url + "/v1", api_key="unused", max_retries=0, timeout=300)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def error(self, status, headers, body, code, param=None, http=400):
        self.assertEqual(status, http, body)
        error = json.loads(body)["error"]
        self.assertEqual(set(error), {"message", "type", "param", "code"})
        self.assertEqual(error["code"], code, body)
        self.assertEqual(error["param"], param, body)
        self.assertTrue(error["message"])
        self.assertIn("X-Request-Id", headers)
        return error

    # The OpenAI SDK, unchanged.

    def test_generate_url_and_b64(self):
        result = self.client.images.generate(model="flux.1-kontext-dev", prompt="a lighthouse", size="256x192",
                                             extra_body={"num_inference_steps": 2, "seed": 11})
        self.assertEqual(len(result.data), 1)
        self.assertTrue(result.data[0].url.startswith(self.server.url + "/v1/images/files/"))
        status, headers, body = request("GET", result.data[0].url)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "image/png")
        self.assertEqual(decoded(body).size, (256, 192))
        b64 = self.client.images.generate(model="flux.1-kontext-dev", prompt="a lighthouse", size="256x192", response_format="b64_json",
                                          extra_body={"num_inference_steps": 2, "seed": 11})
        image = decoded(base64.b64decode(b64.data[0].b64_json))
        self.assertEqual(image.size, (256, 192))
        self.assertEqual(image.tobytes(), decoded(body).tobytes(), "same seed, same pixels")

    def test_every_row_of_the_size_table(self):
        for ratio, (width, height) in SIZE_TABLE.items():
            result = self.client.images.generate(model="flux.1-kontext-dev", prompt="a field", response_format="b64_json",
                                                 extra_body={"aspect_ratio": ratio, "resolution": "0.5K", "num_inference_steps": 1, "seed": 1})
            image = decoded(base64.b64decode(result.data[0].b64_json))
            expected = (int(round(width / 2)), int(round(height / 2)))
            self.assertEqual(image.size, expected, ratio)
            self.assertEqual(result.size, f"{expected[0]}x{expected[1]}")

    def test_sizes_ratios_and_tiers(self):
        cases = [({"size": "100x300"}, (100, 300)), ({"size": "3000x1000"}, (2048, 683)), ({"size": "16:9", "resolution": "0.25"}, (682, 384)),
                 ({"size": "40x40"}, (64, 64)), ({"aspect_ratio": "2:1", "resolution": "0.5K"}, (682, 384))]
        for extra, expected in cases:
            status, _, body = post_json(self.server.url + "/v1/images/generations",
                                        {"prompt": "x", "num_inference_steps": 1, "response_format": "b64_json", **extra})
            self.assertEqual(status, 200, body)
            answer = json.loads(body)
            self.assertEqual(decoded(base64.b64decode(answer["data"][0]["b64_json"])).size, expected, extra)
            self.assertEqual(answer["size"], f"{expected[0]}x{expected[1]}")

    def test_edit_with_two_images_and_every_output_format(self):
        first, second = io.BytesIO(png(200, 120)), io.BytesIO(png(90, 90, (10, 200, 10)))
        first.name, second.name = "a.png", "b.png"
        result = self.client.images.edit(model="flux.1-kontext-dev", image=[first, second], prompt="blend them",
                                         response_format="b64_json", extra_body={"num_inference_steps": 2, "seed": 3})
        image = decoded(base64.b64decode(result.data[0].b64_json))
        self.assertEqual(image.size, (208, 128), "match_input: the first image, in multiples of 16")
        self.assertEqual(result.data[0].model_extra.get("seed"), 3)
        for output_format, mime in [("jpeg", "JPEG"), ("webp", "WEBP"), ("gif", "GIF"), ("avif", "AVIF"), ("png", "PNG")]:
            body, content_type = multipart({"prompt": "x", "output_format": output_format, "num_inference_steps": "1",
                                            "response_format": "b64_json", "output_compression": "50"}, [("image", "a.png", png(64, 64))])
            status, _, answer = request("POST", self.server.url + "/v1/images/edits", body, {"Content-Type": content_type})
            self.assertEqual(status, 200, answer)
            self.assertEqual(decoded(base64.b64decode(json.loads(answer)["data"][0]["b64_json"])).format, mime)

    def test_streaming_partial_images(self):
        stream = self.client.images.generate(model="flux.1-kontext-dev", prompt="a boat", size="128x128", stream=True, partial_images=2,
                                             extra_body={"num_inference_steps": 6, "seed": 2})
        events = list(stream)
        kinds = [event.type for event in events]
        self.assertEqual(kinds, ["image_generation.partial_image"] * 2 + ["image_generation.completed"])
        self.assertEqual([event.partial_image_index for event in events[:2]], [0, 1])
        for event in events:
            self.assertEqual(decoded(base64.b64decode(event.b64_json)).size, (128, 128))

    def test_n_images_report_consecutive_seeds(self):
        result = self.client.images.generate(model="flux.1-kontext-dev", prompt="a cat", size="64x64", n=3, response_format="b64_json",
                                             extra_body={"num_inference_steps": 1, "seed": 40})
        self.assertEqual([item.model_extra.get("seed") for item in result.data], [40, 41, 42])

    # curl, multipart, and the response's extras.

    def test_curl_multipart_edit(self):
        with tempfile.NamedTemporaryFile(suffix=".png") as file:
            file.write(png(96, 64))
            file.flush()
            output = subprocess.run(
                ["curl", "-s", "-D", "-", self.server.url + "/v1/images/edits", "-F", f"image=@{file.name}", "-F", "prompt=make it blue",
                 "-F", "num_inference_steps=1", "-F", "sync_mode=true", "-F", "colour=red"],
                capture_output=True, text=True, check=True).stdout
        head, body = output.split("\n\n", 1)
        self.assertIn("200", head.splitlines()[0])
        self.assertIn("x-kontext-ignored-params: colour", head.lower())
        url = json.loads(body)["data"][0]["url"]
        self.assertTrue(url.startswith("data:image/png;base64,"))
        self.assertEqual(decoded(base64.b64decode(url.split(",", 1)[1])).size, (96, 64))

    def test_models(self):
        status, headers, body = request("GET", self.server.url + "/v1/models")
        self.assertEqual(status, 200)
        self.assertEqual([model["id"] for model in json.loads(body)["data"]], ["flux.1-kontext-dev"])
        self.assertEqual(self.client.models.retrieve("flux.1-kontext-dev").id, "flux.1-kontext-dev")
        detail = json.loads(request("GET", self.server.url + "/v1/models/black-forest-labs/FLUX.1-Kontext-dev")[2])
        self.assertEqual(len(detail["sizes"]), 11)
        self.assertIn("num_inference_steps", detail["parameters"])
        self.error(*request("GET", self.server.url + "/v1/models/gpt-image-1"), "model_not_found", "model", http=404)

    # Every error of the contract.

    def test_errors(self):
        url = self.server.url + "/v1/images/generations"
        self.error(*request("POST", url, b"{not json", {"Content-Type": "application/json"}), "invalid_json")
        self.error(*post_json(url, {"prompt": 5}), "invalid_value", "prompt")
        self.error(*post_json(url, {"prompt": "x", "n": 11}), "invalid_value", "n")
        self.error(*post_json(url, {"prompt": "x", "num_inference_steps": "many"}), "invalid_value", "num_inference_steps")
        self.error(*post_json(url, {"prompt": "x", "cfg_scale": 21}), "invalid_value", "cfg_scale")
        self.error(*post_json(url, {"prompt": "x", "size": "9000x10"}), "invalid_size", "size")
        self.error(*post_json(url, {"prompt": "x", "model": "dall-e-3"}), "model_not_found", "model", http=404)
        self.error(*post_json(url, {"prompt": "x", "enhance_prompt": True}), "prompt_enhancer_unavailable", "enhance_prompt")
        edits = self.server.url + "/v1/images/edits"
        body, content_type = multipart({"prompt": "x"}, [("image[]", f"{i}.png", png(32, 32)) for i in range(5)])
        self.error(*request("POST", edits, body, {"Content-Type": content_type}), "too_many_images", "image")
        body, content_type = multipart({"prompt": "x"}, [("image", "notes.txt", b"hello, not an image")])
        self.error(*request("POST", edits, body, {"Content-Type": content_type}), "unsupported_image_format", "image")
        body, content_type = multipart({"prompt": "x"}, [("image", "bomb.png", png_bomb())])
        self.error(*request("POST", edits, body, {"Content-Type": content_type}), "image_too_large", "image")
        body, content_type = multipart({"prompt": "x"}, [("image", "a.png", png(32, 32)), ("mask", "m.png", png(32, 32))])
        self.error(*request("POST", edits, body, {"Content-Type": content_type}), "unsupported_parameter", "mask")
        body, content_type = multipart({"prompt": "x"}, [])
        self.error(*request("POST", edits, body, {"Content-Type": content_type}), "invalid_value", "image")
        big = os.urandom(60 << 20)
        body, content_type = multipart({"prompt": "x"}, [("image", "big.png", big)])
        self.error(*request("POST", edits, body, {"Content-Type": content_type}), "image_too_large", "image")
        self.error(*request("GET", self.server.url + "/v1/images/files/abcdefghijklmnopqrstuvwx.png"), "image_expired", http=404)
        self.error(*request("GET", self.server.url + "/v1/nothing"), "not_found", http=404)

    def test_concurrent_clients_get_results_or_429(self):
        def one(index):
            return post_json(self.server.url + "/v1/images/generations",
                             {"prompt": f"client {index}", "size": "512x512", "num_inference_steps": 8, "response_format": "b64_json"})
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, range(16)))
        statuses = sorted(status for status, _, _ in answers)
        self.assertTrue(set(statuses) <= {200, 429}, statuses)
        self.assertGreaterEqual(statuses.count(200), 5, "the running job and the 4 queued ones complete")
        self.assertGreaterEqual(statuses.count(429), 1, statuses)
        for status, headers, body in answers:
            if status == 429:
                self.error(status, headers, body, "queue_full", http=429)
                self.assertGreaterEqual(int(headers["Retry-After"]), 1)
        batch_sizes = [json.loads(body)["timings"]["batch_size"] for status, _, body in answers if status == 200]
        self.assertGreater(max(batch_sizes), 1, f"waiting requests of one size share forward passes: {batch_sizes}")
        self.assertEqual(request("GET", self.server.url + "/healthz")[0], 200)

    def test_client_that_disconnects_frees_the_engine(self):
        host, port = self.server.url.split("//")[1].split(":")
        # About a minute of work for the tiny model on this machine, were it to run to the end.
        payload = json.dumps({"prompt": "abandoned", "size": "2048x2048", "num_inference_steps": 50}).encode()
        with socket.create_connection((host, int(port))) as connection:
            connection.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               + f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
            time.sleep(1.0)
        started = time.time()
        status, _, body = post_json(self.server.url + "/v1/images/generations", {"prompt": "next", "size": "64x64", "num_inference_steps": 1})
        self.assertEqual(status, 200, body)
        self.assertLess(time.time() - started, 20, "the abandoned 50-step 1024x1024 job must not run to the end first")


    def test_metrics(self):
        post_json(self.server.url + "/v1/images/generations", {"prompt": "counted", "size": "64x64", "num_inference_steps": 1})
        post_json(self.server.url + "/v1/images/generations", {"prompt": "x", "n": 99})
        status, headers, body = request("GET", self.server.url + "/metrics")
        self.assertEqual(status, 200)
        text = body.decode()
        self.assertIn('kontext_http_requests_total{route="/v1/images/generations",status="200"}', text)
        self.assertIn('kontext_errors_total{code="invalid_value"}', text)
        self.assertRegex(text, r"kontext_images_generated_total [1-9]")
        self.assertIn("kontext_step_duration_seconds_bucket", text)
        self.assertIn("kontext_queue_waiting 0", text)

    def test_acceleration_high_caches_steps(self):
        status, _, body = post_json(self.server.url + "/v1/images/generations",
                                    {"prompt": "x", "size": "64x64", "num_inference_steps": 8, "acceleration": "high", "response_format": "b64_json"})
        self.assertEqual(status, 200, body)
        self.assertEqual(decoded(base64.b64decode(json.loads(body)["data"][0]["b64_json"])).size, (64, 64))
        self.error(*post_json(self.server.url + "/v1/images/generations", {"prompt": "x", "acceleration": "regular"}),
                   "unsupported_value", "acceleration")

    def test_json_edit_with_data_uris(self):
        uri = "data:image/png;base64," + base64.b64encode(png(96, 64)).decode()
        status, _, body = post_json(self.server.url + "/v1/images/edits",
                                    {"prompt": "x", "images": [uri, uri], "num_inference_steps": 1, "response_format": "b64_json"})
        self.assertEqual(status, 200, body)
        self.assertEqual(decoded(base64.b64decode(json.loads(body)["data"][0]["b64_json"])).size, (96, 64))
        self.error(*post_json(self.server.url + "/v1/images/edits", {"prompt": "x", "image_url": "https://example.com/a.png"}),
                   "unsupported_parameter", "image_url")


class LifecycleTests(unittest.TestCase):
    def test_images_expire_after_their_time_to_live(self):
        server = Server("--image-ttl", "1")
        try:
            status, _, body = post_json(server.url + "/v1/images/generations", {"prompt": "x", "size": "64x64", "num_inference_steps": 1})
            url = json.loads(body)["data"][0]["url"]
            self.assertEqual(request("GET", url)[0], 200)
            time.sleep(1.5)
            ServerTests.error(self, *request("GET", url), "image_expired", http=404)
        finally:
            server.stop()

    def test_deadline_ends_a_request_that_runs_too_long(self):
        server = Server("--deadline", "1")
        try:
            ServerTests.error(self, *post_json(server.url + "/v1/images/generations",
                                               {"prompt": "x", "size": "2048x2048", "num_inference_steps": 50}),
                              "deadline_exceeded", http=504)
            # The same failure through a job that the request waits for keeps its status.
            ServerTests.error(self, *post_json(server.url + "/v1/images/generations",
                                               {"prompt": "x", "size": "2048x2048", "num_inference_steps": 50}, {"Prefer": "wait=60"}),
                              "deadline_exceeded", http=504)
            self.assertEqual(post_json(server.url + "/v1/images/generations", {"prompt": "x", "size": "64x64", "num_inference_steps": 1})[0], 200)
        finally:
            server.stop()

    def test_sigterm_finishes_running_work(self):
        server = Server()
        answer = {}
        worker = threading.Thread(target=lambda: answer.update(result=post_json(
            server.url + "/v1/images/generations", {"prompt": "x", "size": "512x512", "num_inference_steps": 12, "response_format": "b64_json"})))
        worker.start()
        time.sleep(1.0)
        server.process.terminate()
        worker.join(timeout=120)
        self.assertEqual(answer["result"][0], 200, "the request running at SIGTERM completes")
        self.assertEqual(server.process.wait(timeout=60), 0)
        server.process.stdout.close()
        shutil.rmtree(server.data, ignore_errors=True)


def wait_for(url, job_id, statuses, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = json.loads(request("GET", f"{url}/v1/jobs/{job_id}")[2])
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


class JobTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server("--allow-private-webhooks")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def submit(self, payload, prefer="respond-async"):
        return post_json(self.server.url + "/v1/images/generations", payload, {"Prefer": prefer})

    def test_submit_poll_and_fetch(self):
        status, headers, body = self.submit({"prompt": "a job", "size": "96x64", "num_inference_steps": 3, "seed": 8})
        self.assertEqual(status, 202, body)
        job = json.loads(body)
        self.assertTrue(job["id"].startswith("job_") and job["status"] in ("queued", "running"))
        self.assertEqual(headers["Location"], f"{self.server.url}/v1/jobs/{job['id']}")
        done = wait_for(self.server.url, job["id"], {"succeeded"})
        self.assertEqual(done["progress"], {"step": 3, "total": 3})
        self.assertEqual(done["result"]["size"], "96x64")
        self.assertEqual(done["result"]["data"][0]["seed"], 8)
        status, _, image = request("GET", done["result"]["data"][0]["url"])
        self.assertEqual((status, decoded(image).size), (200, (96, 64)))
        ServerTests.error(self, *request("GET", self.server.url + "/v1/jobs/job_doesnotexist"), "job_not_found", http=404)

    def test_prefer_wait_answers_synchronously_when_done_in_time(self):
        status, _, body = self.submit({"prompt": "quick", "size": "64x64", "num_inference_steps": 1, "response_format": "b64_json"}, "wait=60")
        self.assertEqual(status, 200, body)
        self.assertEqual(decoded(base64.b64decode(json.loads(body)["data"][0]["b64_json"])).size, (64, 64))
        status, _, body = self.submit({"prompt": "slow", "size": "1024x1024", "num_inference_steps": 20}, "wait=1")
        self.assertEqual(status, 202, body)
        job = json.loads(body)
        self.assertEqual(json.loads(request("POST", f"{self.server.url}/v1/jobs/{job['id']}/cancel")[2])["status"], "canceled")

    def test_events_stream_progress_then_the_result(self):
        job = json.loads(self.submit({"prompt": "watched", "size": "256x256", "num_inference_steps": 5})[2])
        with urllib.request.urlopen(f"{self.server.url}/v1/jobs/{job['id']}/events?previews=true", timeout=120) as stream:
            text = stream.read().decode()
        events = [block for block in text.split("\n\n") if block.strip()]
        names = [block.split("\n")[0].removeprefix("event: ") for block in events]
        self.assertEqual(names[-1], "succeeded")
        self.assertGreaterEqual(names.count("progress"), 5)
        last_progress = json.loads([block for block in events if block.startswith("event: progress")][-1].split("data: ", 1)[1])
        self.assertEqual((last_progress["step"], last_progress["total"]), (5, 5))
        self.assertTrue(last_progress["preview"].startswith("data:image/png;base64,"))

    def test_cancel_while_queued_and_while_running(self):
        running = json.loads(self.submit({"prompt": "long", "size": "2048x2048", "num_inference_steps": 50})[2])
        queued = json.loads(self.submit({"prompt": "behind", "size": "64x64", "num_inference_steps": 1})[2])
        wait_for(self.server.url, running["id"], {"running"})
        behind = json.loads(request("GET", f"{self.server.url}/v1/jobs/{queued['id']}")[2])
        self.assertEqual((behind["status"], behind["position"]), ("queued", 1))
        self.assertEqual(json.loads(request("POST", f"{self.server.url}/v1/jobs/{queued['id']}/cancel")[2])["status"], "canceled")
        started = time.time()
        self.assertEqual(json.loads(request("POST", f"{self.server.url}/v1/jobs/{running['id']}/cancel")[2])["status"], "canceled")
        self.assertLess(time.time() - started, 30)

    def test_webhook_is_delivered(self):
        received = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *arguments):
                pass

        receiver = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        try:
            job = json.loads(self.submit({"prompt": "hooked", "size": "64x64", "num_inference_steps": 1,
                                          "webhook_url": f"http://127.0.0.1:{receiver.server_port}/hook"})[2])
            deadline = time.time() + 60
            while not received and time.time() < deadline:
                time.sleep(0.1)
            self.assertEqual(received[0]["id"], job["id"])
            self.assertEqual(received[0]["status"], "succeeded")
        finally:
            receiver.shutdown()

    def test_private_webhooks_are_refused_by_default(self):
        server = Server()
        try:
            ServerTests.error(self, *post_json(server.url + "/v1/images/generations",
                                               {"prompt": "x", "webhook_url": "http://127.0.0.1:9/hook"}, {"Prefer": "respond-async"}),
                              "invalid_value", "webhook_url")
        finally:
            server.stop()

    def test_jobs_survive_a_killed_server(self):
        server = Server()
        first = json.loads(post_json(server.url + "/v1/images/generations", {"prompt": "a", "size": "512x512", "num_inference_steps": 30},
                                     {"Prefer": "respond-async"})[2])
        second = json.loads(post_json(server.url + "/v1/images/generations", {"prompt": "b", "size": "64x64", "num_inference_steps": 1},
                                      {"Prefer": "respond-async"})[2])
        wait_for(server.url, first["id"], {"running"})
        server.process.kill()
        server.process.wait()
        server.process.stdout.close()
        restarted = Server(data=server.data)
        try:
            done = wait_for(restarted.url, first["id"], {"succeeded", "failed"})
            self.assertEqual(done["status"], "succeeded", done)
            self.assertIn("re-queued", done["note"])
            self.assertEqual(wait_for(restarted.url, second["id"], {"succeeded", "failed"})["status"], "succeeded")
        finally:
            restarted.stop()


class AuthTests(unittest.TestCase):
    def test_api_keys(self):
        server = Server("--api-key", "sk-right-key")
        try:
            url = server.url + "/v1/images/generations"
            payload = {"prompt": "x", "size": "64x64", "num_inference_steps": 1}
            error = ServerTests.error(self, *post_json(url, payload), "invalid_api_key", http=401)
            self.assertEqual(error["type"], "authentication_error")
            ServerTests.error(self, *post_json(url, payload, {"Authorization": "Bearer sk-wrong-key"}), "invalid_api_key", http=401)
            self.assertEqual(post_json(url, payload, {"Authorization": "Bearer sk-right-key"})[0], 200)
            client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-right-key", max_retries=0)
            self.assertEqual(client.models.list().data[0].id, "flux.1-kontext-dev")
            self.assertEqual(request("GET", server.url + "/healthz")[0], 200, "health checks need no key")
            self.assertNotIn("sk-right-key", "".join(server.log), "keys are never logged")
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
