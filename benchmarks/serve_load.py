"""The explorer under load, on loopback only, bounded in time.

`aelab serve` runs in its own process over a model and the 70,000 MNIST images; 32 client threads
then send, for ``--seconds``, a mix of search by item, search by an uploaded PNG and decoding at a
point of the map. Printed: requests/s, p50/p95/p99 latency of each kind, errors (target 0), and the
server's RSS after 100 requests against after 10,000 (target: within 5%). Targets: p95 below 50 ms
for search by item on this 2-core machine. Then, in headless Chromium (when Debian's chromium is
installed), the time from navigation to the drawn map and the hover response.

    .venv/bin/python benchmarks/serve_load.py [--data-dir ../shared/data/mnist] [--model DIR]
        [--clients 32] [--seconds 30]

Without ``--model`` a 2-D auto-encoder is trained first (3 epochs; it is the load that is measured).
"""

from __future__ import annotations

import argparse
import gc
import io
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from aelab import AutoEncoder, datasets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    p.add_argument("--model")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=30.0)
    args = p.parse_args()
    ds = datasets.load("mnist", data_dir=args.data_dir)
    work = Path(tempfile.mkdtemp())
    model_dir = args.model
    if model_dir is None:
        model_dir = work / "mnist-2d"
        AutoEncoder(n_components=2, epochs=3, random_state=0).fit(ds.train.X, image_shape=ds.image_shape).save(
            model_dir
        )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "aelab", "serve", str(model_dir), "--data", "mnist", "--data-dir", args.data_dir]
        + ["--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        started = time.perf_counter()
        while True:
            try:
                info = httpx.get(f"{base}/api/info", timeout=1).json()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.perf_counter() - started > 300:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.5)
        print(f"server up in {time.perf_counter() - started:.0f} s: {info['items']:,} items", flush=True)
        load(base, server.pid, ds, args.clients, args.seconds)
        browser(base)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


def load(base: str, pid: int, ds, clients: int, seconds: float) -> None:
    codes = np.asarray(httpx.get(f"{base}/api/map", timeout=60).json()["ae"])
    low, high = codes.min(0), codes.max(0)
    uploads = []
    for i in range(50):
        buffer = io.BytesIO()
        Image.fromarray(np.round(ds.test.X[i] * 255).astype(np.uint8).reshape(28, 28)).save(buffer, "PNG")
        uploads.append(buffer.getvalue())
    n_items = len(codes)
    latencies: dict[str, list[float]] = {"search by item": [], "search by upload": [], "decode at a point": []}
    errors, count, lock = [], [0], threading.Lock()
    memory = {}
    stop = time.perf_counter() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=30) as http:
            while time.perf_counter() < stop:
                kind = rng.choice(list(latencies))
                t = time.perf_counter()
                try:
                    if kind == "search by item":
                        answer = http.get(f"/api/items/{rng.randrange(n_items)}/neighbours?k=10")
                    elif kind == "search by upload":
                        files = {"file": ("q.png", rng.choice(uploads), "image/png")}
                        answer = http.post("/api/neighbours?k=10", files=files)
                    else:
                        x, y = (rng.uniform(lo, hi) for lo, hi in zip(low, high))
                        answer = http.get(f"/api/decode.png?x={x}&y={y}")
                    ok = answer.status_code == 200
                except httpx.HTTPError as exc:
                    ok, answer = False, exc
                elapsed = time.perf_counter() - t
                with lock:
                    latencies[kind].append(elapsed)
                    if not ok:
                        errors.append(str(answer)[:100])
                    count[0] += 1
                    for mark in (100, 10_000):
                        if count[0] == mark:
                            memory[mark] = rss(pid)

    gc.collect()
    gc.freeze()  # else the clients' own full collections (of MNIST's objects) stall them all at once
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    total = sum(len(v) for v in latencies.values())
    print(
        f"{clients} clients for {wall:.0f} s: {total:,} requests, {total / wall:,.0f} requests/s, {len(errors)} errors"
    )
    print(f"{'request':<20} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for kind, values in latencies.items():
        ms = np.array(values) * 1000
        p50, p95, p99 = np.percentile(ms, [50, 95, 99])
        print(f"{kind:<20} {len(ms):>7,} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f}")
    if 100 in memory:
        after = memory.get(10_000)
        last = (
            f"{after / 2**20:,.0f} MiB after 10,000 ({after / memory[100] - 1:+.1%})" if after else "fewer than 10,000"
        )
        print(f"server RSS: {memory[100] / 2**20:,.0f} MiB after 100 requests, {last}")
    for line in sorted(set(errors))[:5]:
        print(f"  error: {line}")


def browser(base: str) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("browser timing skipped: no chromium (apt-get install chromium)")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        started = time.perf_counter()
        page.goto(base)
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        wall = time.perf_counter() - started
        drawn = page.get_attribute("#ae", "data-drawn")
        print(
            f"browser: {int(drawn):,} points drawn {wall:.2f} s after navigation (the page's own count: "
            f"{int(page.get_attribute('body', 'data-drawn-ms')) / 1000:.2f} s)"
        )
        box = page.locator("#ae").bounding_box()
        times = []
        for i in range(20):
            x, y = page.evaluate(f"() => state.views.ae.toPixel(...state.views.ae.points[{i * 997}])")
            page.mouse.move(0, 0)
            t = time.perf_counter()
            page.mouse.move(box["x"] + x, box["y"] + y)
            page.wait_for_selector("#tip img", state="visible")
            page.wait_for_function("document.querySelector('#tip img').complete")
            times.append(time.perf_counter() - t)
        print(f"hover: the item under the pointer shown in {np.median(times) * 1000:.0f} ms (median of 20)")
        browser.close()


if __name__ == "__main__":
    main()
