"""Generating MNIST digits from the code space: grids of 2-D codes, samples of 16-D codes.

Three auto-encoders per code size, each the default 784-1000-500-250-K recipe trained the same
number of epochs on the 60,000 training images: plain, with a code-L2 penalty (codes pulled to
zero), and variational (KL to N(0, I)). With a 2-D code each decodes a 20 x 20 grid over the box of
its training codes ("auto": 1st to 99th percentiles), over a box centred on zero ("zero": two code
spreads each way) and over that box three times wider ("far": mostly where no training codes lie).
The plain model is also trained without batch normalisation (the lecture's kind); with a 16-D code
each decodes 1,000 codes drawn from a Gaussian and from a 10-component Gaussian mixture fitted to
its training codes, and the variational model also from its prior. A classifier trained with aelab
on the training images judges every set: the share of samples it assigns to a class with confidence
above 0.9, the entropy of the class histogram (log2 10 = 3.32 bits for all ten digits evenly), and
the Frechet distance to the 10,000 test images in its last hidden layer (not the Inception FID of
papers). Real test images, as many as a grid's and as a density's samples, give the ceiling. Figures
go to --out.

.venv/bin/python benchmarks/generation_mnist.py [--data-dir ../shared/data/mnist] [--epochs 10]"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from aelab import AutoEncoder, datasets, generate, report
from aelab.generate import quality_classifier, sample_quality

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
MODELS = {
    "plain": {},
    "plain, no batch norm": {"normalization": "none"},
    "code-L2": {"code_l2": None},
    "variational": {"variational": True},
}
FAR = 3.0  # the "far" grid: the zero box this many times wider, mostly where no training codes lie


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(DEFAULT_DATA))
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--code-l2", type=float, default=1.0, help="weight of the code-L2 model's penalty")
    p.add_argument("--n", type=int, default=1000, help="samples per density (16-D codes)")
    p.add_argument("--grid", type=int, default=20)
    p.add_argument("--out", default="generation-mnist")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    ds = datasets.load("mnist", data_dir=args.data_dir)
    started = time.perf_counter()
    judge = quality_classifier(ds.train.X, ds.train.y, seed=0)
    accuracy = float((judge.predict(ds.test.X) == ds.test.y).mean())
    print(
        f"judge: 784-256-256-10 classifier, test accuracy {accuracy:.4f} "
        f"({time.perf_counter() - started:.0f} s); {ds!r}"
    )
    # the Frechet distance of a finite set is biased upwards, more so for fewer samples: real test
    # images in the numbers of a grid and of a density's samples give each its floor
    rows = [
        (f"real test images ({n})", "-", sample_quality(ds.test.X[:n], judge, ds.test.X))
        for n in (args.grid**2, args.n)
    ]

    for size in (2, 16):
        for name, terms in MODELS.items():
            terms = {k: (args.code_l2 if v is None else v) for k, v in terms.items()}
            model = AutoEncoder(
                n_components=size, epochs=args.epochs, validation_fraction=0.0, random_state=0, **terms
            ).fit(ds.train.X, ds.train.y, image_shape=ds.image_shape)
            rms = float(np.sqrt(np.mean(model.code_sample_**2)))
            label = f"{name} {size}-D (test error {model.reconstruction_error(ds.test.X):.1f}, code RMS {rms:.2f})"
            print(f"trained {label} in {model.training_seconds_:.0f} s", flush=True)
            if size == 2:
                zero = generate.code_box(model.code_sample_, "zero")
                for box in ("auto", "zero", "far"):
                    spec = tuple(FAR * v for v in zero) if box == "far" else box
                    images, _, used = generate.grid(model, args.grid, spec)
                    rows.append((label, f"grid, box {box}", sample_quality(images, judge, ds.test.X)))
                    fig = report.generated_figure(
                        images,
                        ds.image_shape,
                        args.grid,
                        codes=model.code_sample_,
                        labels=np.asarray(model.code_sample_labels_),
                        box=used,
                        title=f"{name} auto-encoder, 2-D code: box {box}",
                    )
                    report.save_figure(
                        fig, out / f"grid-{name.replace(', ', '-').replace(' ', '-')}-{box}.png", overwrite=True
                    )
            else:
                for density in ("gaussian", "gmm") + (("prior",) if terms.get("variational") else ()):
                    images, _ = generate.sample(model, args.n, density, seed=0)
                    rows.append((label, f"{args.n} from {density}", sample_quality(images, judge, ds.test.X)))
                    fig = report.generated_figure(
                        images[:100], ds.image_shape, 10, title=f"{name} auto-encoder, 16-D code: {density}"
                    )
                    report.save_figure(
                        fig, out / f"samples-{name.replace(', ', '-').replace(' ', '-')}-{density}.png", overwrite=True
                    )

    print(f"\n{'model':66s} {'codes':18s} {'confident':>9s} {'entropy':>8s} {'Frechet':>8s}  classes")
    for label, what, q in rows:
        hist = " ".join(str(n) for n in q["class_histogram"].values())
        print(
            f"{label:66s} {what:18s} {q['confident_share']:9.3f} {q['class_entropy_bits']:8.3f} "
            f"{q['frechet_distance']:8.2f}  {hist}"
        )
    print(
        f"\nconfident: share with top class probability > 0.9; entropy of the class histogram in bits (max 3.32);"
        f" Frechet: distance to the test images in the judge's last hidden layer (not the Inception FID)."
        f"\nfigures in {out}"
    )


if __name__ == "__main__":
    main()
