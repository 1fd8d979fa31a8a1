"""``aelab generate`` and ``aelab evaluate-samples``: draw with a trained model's decoder, and
judge what it draws."""

from __future__ import annotations

import json
from pathlib import Path

from ..params import DENSITIES
from .common import SEED, command, data_args, data_options, limit_args, refuse, whole


def add_commands(sub) -> None:
    p = command(
        sub,
        "generate",
        "Decode codes into new samples: a grid over a 2-D code space, samples from a "
        "density fitted to the training codes, or the line between two inputs.",
        "  aelab generate mnist-ae2 --grid 20 --out grid.png\n"
        "  aelab generate mnist-l2 --grid 20 --box zero --out grid-zero.png\n"
        "  aelab generate mnist-ae16 --sample 64 --density gmm --seed 1 --out samples.png\n"
        "  aelab generate mnist-vae16 --sample 64 --density prior --out prior.png\n"
        "  aelab generate mnist-ae16 --interpolate test:0 test:1 --steps 10 --data mnist --out line.png\n",
    )
    p.add_argument("model", metavar="DIR", help="a trained auto-encoder's folder")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--grid", type=whole(2), metavar="N", help="decode an N x N grid of codes")
    what.add_argument("--sample", type=whole(1), metavar="N", help="decode N codes drawn from --density")
    what.add_argument(
        "--interpolate",
        nargs=2,
        metavar=("A", "B"),
        help="decode the line between two inputs: ids like test:0 (with --data), image or .npy files",
    )
    _generation_args(p, DENSITIES)
    p.add_argument("--steps", type=whole(2), default=10, help="points on the --interpolate line, both ends included")
    p.add_argument("--out", required=True, metavar="FILE.png", help="figure to write")
    p.add_argument("--npy", metavar="FILE.npy", help="also write the decoded samples as an array")
    p.add_argument("--overwrite", action="store_true", help="replace --out / --npy if they exist")
    limit_args(p, "images")
    data_args(p, required=False)
    p.set_defaults(func=cmd_generate)

    p = command(
        sub,
        "evaluate-samples",
        "How good generated samples are: a classifier trained on the data set "
        "(with aelab) gives the share of confident samples, the entropy of their classes and the Frechet "
        "distance to real test samples in its feature space (not the Inception FID of papers).",
        "  aelab evaluate-samples mnist-vae16 --data mnist --sample 1000 --density prior \\\n"
        "      --classifier mnist-judge\n"
        "  aelab evaluate-samples mnist-ae2 --data mnist --grid 20 --box zero --classifier mnist-judge\n",
    )
    p.add_argument("model", metavar="DIR", help="a trained auto-encoder's folder")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--grid", type=whole(2), metavar="N", help="judge an N x N grid (default for 2-D codes: 20)")
    what.add_argument("--sample", type=whole(1), metavar="N", help="judge N samples (default for other codes: 1000)")
    _generation_args(p, DENSITIES)
    p.add_argument(
        "--classifier",
        metavar="DIR",
        help="the judging classifier: loaded if the folder exists, "
        "else trained on --data and saved there (default: trained, not saved)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    limit_args(p, "images")
    data_args(p, required=True)
    p.set_defaults(func=cmd_evaluate_samples)


def _generation_args(p, densities) -> None:
    g = p.add_argument_group("codes")
    g.add_argument(
        "--box",
        default="auto",
        metavar="auto|zero|x0,x1,y0,y1",
        help="the grid's box: auto (1st-99th percentiles of the training codes), zero (centred on "
        "zero, two code spreads each way) or given",
    )
    g.add_argument(
        "--dims",
        default=None,
        metavar="I,J",
        help="for codes of more than 2 dimensions: the two dimensions the grid spans (the others stay at their mean)",
    )
    g.add_argument(
        "--density",
        choices=densities,
        default="gaussian",
        help="for --sample: a Gaussian or a 10-component mixture fitted to the training codes, or "
        "the prior N(0, I) of a variational model",
    )
    g.add_argument("--seed", type=SEED, default=0, help="seed of the drawn codes")


def _refuse_other_modes(args) -> None:
    """One line for an option of another way of picking codes than the one asked for."""
    if args.grid is not None:
        refuse(args, ("density", "seed"), "for --grid (a grid is not drawn at random)")
    if args.sample is not None:
        refuse(args, ("box", "dims"), "for --sample (they place a grid)")
    if getattr(args, "interpolate", None):
        refuse(args, ("box", "dims", "density", "seed"), "for --interpolate (its codes lie on a line)")
    elif "steps" in vars(args):
        refuse(args, ("steps",), "without --interpolate")


def cmd_generate(args) -> None:
    from ..jobs.generate import GenerateRequest, generate

    request = GenerateRequest(  # the outputs are checked when it is made
        args.model,
        args.out,
        grid=args.grid,
        sample=args.sample,
        interpolate=tuple(args.interpolate) if args.interpolate else None,
        box=args.box,
        dims=args.dims,
        density=args.density,
        seed=args.seed,
        steps=args.steps,
        data=data_options(args) if args.data else None,
        npy=args.npy,
        overwrite=args.overwrite,
    )
    _refuse_other_modes(args)
    result = generate(request)
    for note in result.notes:
        print(note)
    print(f"{result.what}; wrote {args.out}" + (f" and {args.npy}" if args.npy else ""))


def cmd_evaluate_samples(args) -> None:
    from ..jobs.generate import EvaluateSamplesRequest, judge_samples

    _refuse_other_modes(args)
    figures = judge_samples(
        EvaluateSamplesRequest(
            args.model,
            data_options(args),
            grid=args.grid,
            sample=args.sample,
            box=args.box,
            dims=args.dims,
            density=args.density,
            seed=args.seed,
            classifier=args.classifier,
            verbose=not args.json,
        )
    )
    what, accuracy = figures["what"], figures["classifier_test_accuracy"]
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{Path(args.model).name}: {what}; judged by a classifier with test accuracy {accuracy:.4f}")
    print(f"  confident (top class probability > 0.9): {figures['confident_share']:.3f}")
    print(
        f"  class entropy: {figures['class_entropy_bits']:.3f} bits (even over all classes: "
        f"{figures['max_entropy_bits']:.3f})"
    )
    print(f"  class histogram: {' '.join(f'{c}:{n}' for c, n in figures['class_histogram'].items())}")
    print(
        f"  Frechet distance to the test samples in the classifier's features: {figures['frechet_distance']:.3f} "
        "(not the Inception FID of papers)"
    )
