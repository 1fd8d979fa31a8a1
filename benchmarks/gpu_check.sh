#!/usr/bin/env bash
# The checks that need a GPU, as one short script for a GPU machine (a few minutes):
#   1. the tests marked `gpu` (they skip without CUDA elsewhere);
#   2. the default recipe (784-1000-500-250-30) on MNIST on the GPU: samples/s as a fraction of the
#      GPU's own float32 matmul rate measured in the same run, peak GPU memory, and the test error.
# Usage: benchmarks/gpu_check.sh [MNIST_DIR] [EPOCHS]   (defaults: ../shared/data/mnist, 5)
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST_DIR="${1:-../shared/data/mnist}"
EPOCHS="${2:-5}"
PYTHON="${PYTHON:-.venv/bin/python}"

"$PYTHON" -m pytest -q -m gpu tests -p no:cacheprovider

"$PYTHON" - "$MNIST_DIR" "$EPOCHS" <<'EOF'
import sys
import time

import torch

import aelab

assert torch.cuda.is_available(), "no CUDA device"
device = torch.device("cuda")
print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")

# the GPU's own float32 matmul rate, at the precision aelab trains with (TF32 where the card has it)
torch.set_float32_matmul_precision("high")
n = 8192
a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
for _ in range(3):
    a @ b
torch.cuda.synchronize()
started, reps = time.perf_counter(), 20
for _ in range(reps):
    a @ b
torch.cuda.synchronize()
matmul_flops = 2 * n**3 * reps / (time.perf_counter() - started)
print(f"matmul: {matmul_flops / 1e12:.1f} TFLOP/s")
del a, b

ds = aelab.datasets.load("mnist", data_dir=sys.argv[1])
torch.cuda.reset_peak_memory_stats()
model = aelab.AutoEncoder(epochs=int(sys.argv[2]), device="cuda", random_state=0)
started = time.perf_counter()
model.fit(ds.train.X)
seconds = time.perf_counter() - started
samples_per_s = model.n_epochs_ * model.steps_per_epoch_ * model.batch_size_ / seconds
# forward + backward of the MLP: 3 x 2 x the weights per sample
weights = sum(p.numel() for p in model.module_.parameters() if p.dim() == 2)
fraction = samples_per_s * 6 * weights / matmul_flops
print(f"default recipe, {model.n_epochs_} epochs: {samples_per_s:,.0f} samples/s, {fraction:.1%} of the matmul rate")
print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
print(f"test error: {model.reconstruction_error(ds.test.X):.2f} (PCA-30: 13.87; the 100-epoch recipe: 2.42)")
EOF
