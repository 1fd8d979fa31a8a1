"""Shared fixtures. Real data sets live in ../shared/data; tests that need them skip without them."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"

requires_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(), reason="../shared/data/mnist is absent"
)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Small models run fastest, and deterministically, on one thread: for the whole session, so
    that models that module fixtures train do too (they are set up before any test's fixtures)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_drawn(path: Path, images: bool = False, coloured: bool = False) -> np.ndarray:
    """Assert that ``path`` is a PNG figure with something drawn on it, judged by its pixels:
    ``images``: at least a fifth of it is not white (strips of images); ``coloured``: at least
    0.2% of it is in colour (plotted lines or points; text and frames are black or grey).
    An empty figure, or one with axes and titles alone, fails. Returns its pixels."""
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pixels = np.asarray(Image.open(path).convert("RGB")).astype(np.int16)
    assert min(pixels.shape[:2]) >= 100, f"{path} is {pixels.shape[1]}x{pixels.shape[0]} pixels"
    if images:
        assert (pixels.min(2) < 230).mean() > 0.2, f"{path} shows no images"
    if coloured:
        assert ((pixels.max(2) - pixels.min(2)) > 60).mean() > 0.002, f"{path} has nothing plotted in colour"
    return pixels


def saved_without(model, folder: Path, *names: str, at: tuple[str, ...] = ("params",)):
    """``model`` saved in ``folder``, then loaded from a config without the parameters ``names``
    (under the keys ``at`` of config.json: an inner model's are deeper), as an older aelab wrote it."""
    import aelab

    model.save(folder)
    path = folder / "config.json"
    config = json.loads(path.read_text())
    params = config
    for key in at:
        params = params[key]
    for name in names:
        del params[name]
    path.write_text(json.dumps(config))
    return aelab.load(folder)


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> Path:
    """Write ``array`` (uint8) in the IDX format."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


@pytest.fixture
def idx_folder(tmp_path) -> Path:
    """A small MNIST-like folder: 40 train and 10 test 6x5 images with labels."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "idx"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (40, 6, 5)), compress=True)
    write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, 40), compress=True)
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 6, 5)))
    write_idx(folder / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 10))
    return folder


@pytest.fixture(scope="module")
def digits_models(tmp_path_factory):
    """Two small auto-encoders of the built-in digits, saved as folders: ``ae`` (6-D codes) and
    ``bits`` (16-bit binary codes)."""
    import aelab

    folder = tmp_path_factory.mktemp("digits-models")
    X = aelab.datasets.load("digits").train.X
    aelab.AutoEncoder(n_components=6, hidden_layer_sizes=(16,), epochs=2, random_state=0).fit(X).save(folder / "ae")
    bits = aelab.AutoEncoder(n_components=16, hidden_layer_sizes=(16,), binary=True, epochs=2, random_state=0)
    bits.fit(X).save(folder / "bits")
    return folder


FAST_AE = dict(hidden_layer_sizes=(32, 16), epochs=8, batch_size=32, random_state=0)


def run_cli(*args, **kw) -> subprocess.CompletedProcess:
    """``aelab ARGS...`` in a fresh process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "aelab.cli", *map(str, args)], capture_output=True, text=True, **kw)


_KILLED_AFTER_EPOCH = """
import os, signal, sys
import numpy as np
import torch
import aelab, aelab.training.loop as loop
torch.set_num_threads(1)  # as the tests run: the same sums in the same order
data, checkpoint_dir, epoch = sys.argv[1], sys.argv[2], int(sys.argv[4])
settings, fit_kw = eval(sys.argv[3]), eval(sys.argv[5])
real = loop.save_checkpoint
def save_then_die(folder, run_id, module, optimizer, scheduler, shuffle, best, state, *rest):
    real(folder, run_id, module, optimizer, scheduler, shuffle, best, state, *rest)
    if state["epoch"] == epoch:
        os.kill(os.getpid(), signal.SIGKILL)
loop.save_checkpoint = save_then_die
aelab.AutoEncoder(**settings).fit(np.load(data, mmap_mode="r"), checkpoint_dir=checkpoint_dir, **fit_kw)
"""


def stop_after_epoch(monkeypatch, epoch: int = 2) -> None:
    """Make training in this process stop (KeyboardInterrupt) right after it saves the checkpoint
    of ``epoch``, as an interrupted run leaves it; ``monkeypatch.undo()`` ends that."""
    import aelab.training.loop as loop

    real = loop.save_checkpoint

    def save_then_stop(*args):
        real(*args)
        if args[7]["epoch"] == epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", save_then_stop)


def fit_killed_after_epoch(data: Path, checkpoint_dir: Path, settings: dict, epoch: int = 2, **fit_kw) -> int:
    """Fit ``AutoEncoder(**settings)`` on the ``.npy`` file ``data`` (memory-mapped; ``fit_kw`` go
    to ``fit``) in a fresh process that is SIGKILLed right after it saves the checkpoint of
    ``epoch``, as a killed run leaves it; returns the process's exit status (-9)."""
    argv = [str(data), str(checkpoint_dir), repr(settings), str(epoch), repr(fit_kw)]
    return subprocess.run([sys.executable, "-c", _KILLED_AFTER_EPOCH, *argv]).returncode


def serve_in_thread(app):
    """``app`` served by uvicorn in a thread on a free port: (its address, a function that stops it)."""
    import threading
    import time

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop():
        server.should_exit = True
        thread.join(timeout=10)

    return f"http://127.0.0.1:{port}", stop
