#!/usr/bin/env bash
# The checks that need a GPU, as one short script for a GPU machine (a few minutes):
#   1. the tests marked `gpu` (they skip without CUDA elsewhere);
#   2. the default recipe (784-1000-500-250-30, "auto" epochs) on MNIST on the GPU: samples/s as a
#      fraction of the GPU's own matmul rate measured in the same run, peak GPU memory, test error;
#   3. variants: the same recipe for a few epochs in float32, bfloat16, float16 and compiled
#      (--compile), each as a ratio to float32 in the same run;
#   4. conv: the same for the default convolutional auto-encoder;
#   5. streaming: benchmarks/streaming.py's speed table (memory-mapped .npy, WebDataset shards,
#      an image folder, against in memory) on the GPU;
#   6. encode: images encoded per second, from memory and from a memory-mapped .npy;
#   7. profile: ten steps of the default recipe under torch.profiler, kernel time against wall time,
#      plain and with --cuda-graphs;
#   8. batches: the recipe with --cuda-graphs at larger batches (learning rate scaled by the square
#      root of the batch's growth), "auto" epochs: time and test error, the candidates for a GPU recipe.
# Usage: benchmarks/gpu_check.sh [MNIST_DIR] [EPOCHS] [PARTS]
#   (defaults: ../shared/data/mnist, 10, "tests recipe variants conv encode profile batches streaming")
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST_DIR="${1:-../shared/data/mnist}"
EPOCHS="${2:-10}"
PARTS="${3:-tests recipe variants conv encode profile batches streaming}"
PYTHON="${PYTHON:-.venv/bin/python}"

if [[ " $PARTS " == *" tests "* ]]; then
    "$PYTHON" -m pytest -q -m gpu tests -p no:cacheprovider
fi

"$PYTHON" - "$MNIST_DIR" "$EPOCHS" "$PARTS" <<'PY'
import statistics
import sys
import time

import torch

import aelab

sys.path.insert(0, "benchmarks")
from streaming import speed  # noqa: E402

assert torch.cuda.is_available(), "no CUDA device"
device = torch.device("cuda")
print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}", flush=True)


def matmul_rate(dtype) -> float:
    """The GPU's own rate for an 8192-square product, in FLOP/s (float32 as TF32, as aelab trains)."""
    n, reps = 8192, 20
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - started)


torch.set_float32_matmul_precision("high")
rates = {"float32": matmul_rate(torch.float32), "bfloat16": matmul_rate(torch.bfloat16)}
torch.set_float32_matmul_precision("highest")
print(f"matmul: {rates['float32'] / 1e12:.0f} TFLOP/s TF32, {rates['bfloat16'] / 1e12:.0f} TFLOP/s bfloat16", flush=True)

ds = aelab.datasets.load("mnist", data_dir=sys.argv[1])
epochs, parts = int(sys.argv[2]), sys.argv[3].split()


def train(estimator=aelab.AutoEncoder, **kw):
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    model = estimator(device="cuda", random_state=0, **kw).fit(ds.train.X, image_shape=ds.image_shape)
    seconds = time.perf_counter() - started
    steady = statistics.median(h["samples_per_s"] for h in model.history_)  # epoch 1 holds a compile
    weights = sum(p.numel() for p in model.module_.parameters() if p.dim() == 2)
    error = model.reconstruction_error(ds.test.X)
    return model, seconds, steady, steady * 6 * weights, error  # an MLP's forward + backward: 6 x weights


if "recipe" in parts:
    for name, kw in (("default recipe", {}), ("default recipe, --cuda-graphs", {"cuda_graphs": True})):
        model, seconds, steady, flops, error = train(**kw)
        print(
            f"{name}, {model.n_epochs_} epochs in {seconds:.0f} s: {steady:,.0f} samples/s, "
            f"{flops / rates['float32']:.2%} of the TF32 matmul rate; peak GPU memory "
            f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB; test error {error:.2f} (PCA-30: 13.87)",
            flush=True,
        )

VARIANTS = (
    ("float32", {}),
    ("bfloat16", {"precision": "bfloat16"}),
    ("float16 (gradient scaler)", {"precision": "float16"}),
    ("float32, --compile", {"compile": True}),
    ("bfloat16, --compile", {"precision": "bfloat16", "compile": True}),
    ("float32, --cuda-graphs", {"cuda_graphs": True}),
    ("bfloat16, --cuda-graphs", {"precision": "bfloat16", "cuda_graphs": True}),
    ("float32, --cuda-graphs, cuDNN autotuned", {"cuda_graphs": True, "cudnn_benchmark": True}),
)
for part, what, estimator in (
    ("variants", "the default recipe", aelab.AutoEncoder),
    ("conv", "the conv auto-encoder", aelab.ConvAutoEncoder),
):
    if part not in parts:
        continue
    print(f"\n{epochs} epochs of {what:<22}  samples/s  / float32  seconds  test error  peak MiB", flush=True)
    base = None
    for name, kw in VARIANTS:
        kw = dict(kw)
        torch.backends.cudnn.benchmark = kw.pop("cudnn_benchmark", False)  # convolutions' algorithms timed
        try:
            model, seconds, steady, flops, error = train(estimator, epochs=epochs, **kw)
        except Exception as e:  # report and go on: one failing variant must not hide the others
            print(f"{name:<36} failed: {type(e).__name__}: {str(e).splitlines()[0]}", flush=True)
            continue
        finally:
            torch.backends.cudnn.benchmark = False
        base = base or steady
        print(
            f"{name:<36} {steady:>9,.0f}  {steady / base:>9.2f}  {seconds:>7.0f}  {error:>10.3f}  "
            f"{torch.cuda.max_memory_allocated() / 2**20:>8.0f}",
            flush=True,
        )

if "encode" in parts:
    # encoding (transform, aelab encode, aelab index) from memory and from a memory-mapped .npy
    import tempfile

    import numpy as np

    model = aelab.AutoEncoder(device=device.type, random_state=0, epochs=1).fit(ds.train.X[:10000])
    X = np.concatenate([ds.train.X] * 4)  # 240,000 images
    model.transform(X[:8192])  # warm-up

    def images_per_s(read) -> float:
        torch.cuda.synchronize()
        started = time.perf_counter()
        for start in range(0, len(X), 65536):
            model.transform(read(start, start + 65536))
        torch.cuda.synchronize()
        return len(X) / (time.perf_counter() - started)

    in_memory = images_per_s(lambda a, b: X[a:b])
    with tempfile.TemporaryDirectory() as folder:
        np.save(f"{folder}/x.npy", X)
        mapped = np.load(f"{folder}/x.npy", mmap_mode="r")
        from_file = images_per_s(lambda a, b: np.asarray(mapped[a:b]))
    print(
        f"\nencoding 240,000 MNIST images: {in_memory:,.0f} images/s from memory, {from_file:,.0f} from a "
        "memory-mapped .npy (target: 2,000,000)",
        flush=True,
    )

if "profile" in parts:
    # where a step's time goes: the kernels' own time against the wall time of ten steps (the gaps
    # are launches, Python and waits on the host), plain and replayed from a CUDA graph
    from torch.profiler import ProfilerActivity, profile

    from aelab.training import loop

    optimizer_step = loop._Stepper.optimizer_step  # the end of every step, plain or replayed

    for name, kw in (("", {}), (", --cuda-graphs", {"cuda_graphs": True})):
        seen = {"n": 0, "prof": None}

        def profiled(self, seen=seen, name=name):
            optimizer_step(self)
            seen["n"] += 1
            if seen["n"] == 20:  # after warm-up (and capture): ten steps under the profiler
                torch.cuda.synchronize()
                seen["prof"] = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]).__enter__()
                seen["t"] = time.perf_counter()
            if seen["n"] == 30:
                torch.cuda.synchronize()
                wall = time.perf_counter() - seen["t"]
                seen["prof"].__exit__(None, None, None)
                events = seen["prof"].key_averages()
                kernels = sum(e.self_device_time_total for e in events) / 1e6
                print(f"\nten steps of the default recipe{name}: {wall * 1e3:.1f} ms wall, {kernels * 1e3:.1f} ms "
                      f"in kernels ({kernels / wall:.1%}); the busiest:", flush=True)
                print(events.table(sort_by="self_device_time_total", row_limit=12), flush=True)

        loop._Stepper.optimizer_step = profiled
        aelab.AutoEncoder(device="cuda", random_state=0, epochs=1, **kw).fit(ds.train.X[:20000])
    loop._Stepper.optimizer_step = optimizer_step

if "batches" in parts:
    print("\nthe default recipe, --cuda-graphs, auto epochs, at larger batches:", flush=True)
    for batch in (256, 1024, 4096):
        lr = 3e-3 * (batch / 256) ** 0.5
        model, seconds, steady, flops, error = train(batch_size=batch, learning_rate=lr, cuda_graphs=True)
        print(
            f"batch {batch:>5}, lr {lr:.4f}: {model.n_epochs_} epochs in {seconds:.1f} s, {steady:,.0f} samples/s "
            f"({flops / rates['float32']:.2%} of TF32), test error {error:.2f}",
            flush=True,
        )

if "streaming" in parts:
    print("\nstreamed against in memory, on the GPU:", flush=True)
    speed(sys.argv[1], epochs)
PY
