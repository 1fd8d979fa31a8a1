"""Every auto-encoder variant on MNIST with a 30-D code: test error, denoising error, training cost.

Each variant is the 784-1000-500-250-30 MLP of the default recipe (or the lecture's convolutional
encoder with a dense 30-D code) trained for the same number of epochs on the 60,000 training
images, with one regularization term switched on. Printed per variant: the test squared error per
image; the squared error of the clean test images reconstructed from noisy ones (Gaussian noise,
sigma 0.3 by default) - the denoising benchmark, a denoising auto-encoder beside the plain one; the
training time and its ratio to the plain auto-encoder's (seconds per epoch).

    python benchmarks/variants.py [--data-dir ../shared/data/mnist] [--epochs 15] [--only NAME]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from aelab import AutoEncoder, ConvAutoEncoder, datasets
from aelab.models import squared_error

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
VARIANTS = {
    "plain": {},
    "denoising gaussian:0.3": {"denoise": "gaussian:0.3"},
    "denoising mask:0.25": {"denoise": "mask:0.25"},
    "sparse l1:1e-3": {"sparse": "l1:1e-3"},
    "sparse kl:1:0.05": {"sparse": "kl:1:0.05"},
    "contractive 0.01": {"contractive": 0.01},
    "code-L2 0.01": {"code_l2": 0.01},
    "variational beta 1": {"variational": True, "beta": 1.0},
    "sparse denoising (l1 + gaussian)": {"denoise": "gaussian:0.3", "sparse": "l1:1e-3"},
    "convolutional 16-8-8 + dense 30": {"conv": True},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--noise", default="gaussian:0.3", help="test-time noise of the denoising column")
    p.add_argument("--only", help="run only variants whose name contains this text (plain always runs)")
    args = p.parse_args()

    ds = datasets.load("mnist", data_dir=args.data_dir)
    print(f"data: {ds!r}; {args.epochs} epochs each, batch 256, code size 30; noisy test input: {args.noise}")
    print(f"{'variant':34s} {'test error':>10s} {'from noisy':>10s} {'seconds':>8s} {'cost':>6s}  last epoch's terms")
    plain_per_epoch = None
    for name, terms in VARIANTS.items():
        if args.only and args.only not in name and name != "plain":
            continue
        terms = dict(terms)
        common = dict(epochs=args.epochs, validation_fraction=0.0, random_state=0)
        if terms.pop("conv", False):
            model = ConvAutoEncoder(n_components=30, channels=(16, 8, 8), **common, **terms)
        else:
            model = AutoEncoder(n_components=30, hidden_layer_sizes=(1000, 500, 250), **common, **terms)
        model.fit(ds.train.X, image_shape=ds.image_shape)
        error = model.reconstruction_error(ds.test.X)
        _, from_noisy = model.denoise_reconstruct(ds.test.X, args.noise, seed=1)
        per_epoch = model.training_seconds_ / model.n_epochs_
        plain_per_epoch = plain_per_epoch or per_epoch
        last = model.history_[-1]
        shown = ", ".join(
            f"{k} {last[k]:.3g}" for k in last if k not in ("epoch", "loss", "seconds", "samples_per_s", "lr")
        )
        print(
            f"{name:34s} {error:10.2f} {squared_error(from_noisy, ds.test.X):10.2f} "
            f"{model.training_seconds_:8.0f} {per_epoch / plain_per_epoch:5.2f}x  {shown}",
            flush=True,
        )


if __name__ == "__main__":
    main()
