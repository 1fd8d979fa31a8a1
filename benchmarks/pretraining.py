"""Pre-training on MNIST: does starting from an auto-encoder help a classifier?

1. Few labels: 1,000 labelled training images (stratified), the other 59,000 without labels. A
   784-500-500-2000-10 classifier fine-tuned on the 1,000, its hidden layers initialised
   (a) by greedy layer-wise pre-training on all 60,000 images, plain or with denoising layers
   (each layer sees its input with a share masked, mask:0.5), (b) from the encoder of an
   auto-encoder 784-500-500-2000-30 trained on all 60,000 images, (c) at random.
2. All labels: the same classifier on all 60,000, greedy pre-training against random weights
   (Hinton & Salakhutdinov 2006 report 1.2% test error with pre-training, 1.6% without).

    python benchmarks/pretraining.py [--data-dir ../shared/data/mnist] [--skip-full]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from aelab import AutoEncoder, Classifier, datasets
from aelab.datasets import keep_labels

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
HIDDEN = (500, 500, 2000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--n-labels", type=int, default=1000)
    p.add_argument("--pretrain-epochs", type=int, default=5, help="epochs of each greedily pre-trained layer")
    p.add_argument("--ae-epochs", type=int, default=10, help="epochs of the auto-encoder whose encoder is reused")
    p.add_argument("--few-epochs", type=int, default=100, help="fine-tuning epochs on the few labels")
    p.add_argument("--full-epochs", type=int, default=20, help="epochs of the all-label runs")
    p.add_argument("--denoise", default="mask:0.5", help="input noise of the denoising pre-trained layers")
    p.add_argument("--skip-full", action="store_true", help="only the few-label comparison")
    args = p.parse_args()

    ds = datasets.load("mnist", data_dir=args.data_dir)
    X, y, unlabelled = keep_labels(ds.train.X, ds.train.y, args.n_labels, seed=0)
    print(
        f"data: {ds!r}; {len(X)} labelled, {len(unlabelled)} unlabelled; classifier 784-"
        + "-".join(map(str, HIDDEN))
        + "-10"
    )

    t = time.perf_counter()
    ae = AutoEncoder(
        n_components=30, hidden_layer_sizes=HIDDEN, epochs=args.ae_epochs, validation_fraction=0.0, random_state=0
    ).fit(ds.train.X)
    seconds = time.perf_counter() - t
    print(
        f"auto-encoder 784-{'-'.join(map(str, HIDDEN))}-30: {args.ae_epochs} epochs in {seconds:.0f} s, "
        f"test reconstruction error {ae.reconstruction_error(ds.test.X):.2f}",
        flush=True,
    )

    few = dict(hidden_layer_sizes=HIDDEN, epochs=args.few_epochs, batch_size=100, random_state=0)
    runs = {
        "greedy pre-training": Classifier(pretrain="greedy", pretrain_epochs=args.pretrain_epochs, **few),
        "greedy, denoising layers": Classifier(
            pretrain="greedy", pretrain_epochs=args.pretrain_epochs, pretrain_denoise=args.denoise, **few
        ),
        "encoder of the auto-encoder": Classifier(init=ae, **few),
        "random initialisation": Classifier(**few),
    }
    print(f"\n{args.n_labels} labels, {args.few_epochs} fine-tuning epochs:")
    for name, clf in runs.items():
        t = time.perf_counter()
        clf.fit(X, y, X_unlabelled=unlabelled)
        error = 100 * (1 - clf.score(ds.test.X, ds.test.y))
        print(
            f"  {name:30s} test error {error:5.2f}%  ({time.perf_counter() - t:.0f} s, best epoch {clf.best_epoch_})",
            flush=True,
        )

    if args.skip_full:
        return
    print(f"\nall {len(ds.train.X)} labels, {args.full_epochs} epochs (paper: 1.2% pre-trained, 1.6% without):")
    full = dict(hidden_layer_sizes=HIDDEN, epochs=args.full_epochs, batch_size=256, random_state=0)
    for name, clf in {
        "greedy pre-training": Classifier(pretrain="greedy", pretrain_epochs=args.pretrain_epochs, **full),
        "greedy, denoising layers": Classifier(
            pretrain="greedy", pretrain_epochs=args.pretrain_epochs, pretrain_denoise=args.denoise, **full
        ),
        "random initialisation": Classifier(**full),
    }.items():
        t = time.perf_counter()
        clf.fit(ds.train.X, ds.train.y)
        error = 100 * (1 - clf.score(ds.test.X, ds.test.y))
        print(f"  {name:30s} test error {error:5.2f}%  ({time.perf_counter() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
