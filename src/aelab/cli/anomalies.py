"""``aelab score`` and ``evaluate-anomalies``: the unusual items of a collection, and how well a
model finds them beside scikit-learn's detectors."""

from __future__ import annotations

from ..params import MODEL_KINDS, auto_or_float, auto_or_int
from .common import command, data_args, data_options, whole


def contamination_option(p, default=None, whose: str = "training samples") -> None:
    """``--contamination``: the share of the training items taken as anomalies, which sets the
    threshold; None keeps the one the model was trained with."""
    help = (
        f"share of the {whose} taken as anomalies, which sets the threshold; auto: Tukey's fence (1.5 "
        "interquartile ranges above the training scores' upper quartile)"
    )
    p.add_argument(
        "--contamination",
        type=auto_or_float,
        default=default,
        metavar="SHARE|auto",
        help=help + (" (default: the model's own)" if default is None else ""),
    )


def add_commands(sub) -> None:
    p = command(
        sub,
        "score",
        "Score every item of a collection with a trained model: higher = more unusual (what it rebuilds worst, "
        "and whose code lies farthest from the training codes), and flag those above its threshold.",
        "  aelab score mnist-ae --data mnist --data-dir ../shared/data/mnist --out scores.csv\n"
        "  aelab score parts-ae --data photos/ --stream --out scores.csv --contamination 0.01\n",
    )
    p.add_argument("model", metavar="DIR", help="model folder")
    data_args(p)
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE.csv",
        help="id, label, path, score, flagged: one row per item; its id is the one an index gives it (test:12, row:5)",
    )
    p.add_argument("--split", choices=("all", "train", "test"), default="all", help="which items to score")
    p.add_argument(
        "--stream",
        action="store_true",
        help="read a .npy file, an image folder or shards a batch at a time (every item; for collections larger "
        "than memory)",
    )
    p.add_argument("--batch-size", type=whole(1), default=4096, help="items scored at a time")
    contamination_option(p)
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_score)

    p = command(
        sub,
        "evaluate-anomalies",
        "Train on the normal labels of the training split, score the whole test split (the other labels are the "
        "anomalies), and measure ROC-AUC, average precision and F1 beside IsolationForest, a one-class SVM, kNN "
        "distance and PCA's reconstruction error.",
        "  aelab evaluate-anomalies --data mnist --data-dir ../shared/data/mnist --normal 8 --out eval-8\n"
        "  aelab evaluate-anomalies --data faces/ --normal alice --model pca --out eval-alice\n",
    )
    data_args(p)
    p.add_argument("--normal", required=True, metavar="LABEL[,LABEL...]", help="the labels of the normal items")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="folder for metrics.json, curves.png, unusual.png, model/"
    )
    p.add_argument("--model", choices=MODEL_KINDS, default="autoencoder", help="what to train on the normal items")
    p.add_argument("--n-components", type=whole(1), default=30, help="code size (PCA's beside it too)")
    p.add_argument("--epochs", type=auto_or_int, default="auto", metavar="N|auto", help="training epochs")
    contamination_option(p, "auto")
    p.add_argument("--seed", type=int, default=0, help="seed of the models")
    p.add_argument("--no-baselines", action="store_true", help="measure aelab's model alone")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_evaluate_anomalies)


def cmd_score(args) -> None:
    from ..jobs import ScoreRequest, score
    from .common import refuse

    if args.stream:
        refuse(args, ("split", "test_size", "split_seed", "label_column"), "with --stream (every item is scored)")
    result = score(
        ScoreRequest(
            model=args.model,
            data=data_options(args),
            out=args.out,
            split="all" if args.stream else args.split,
            stream=args.stream,
            contamination=args.contamination,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
    )
    print_scores(result)


def print_scores(result) -> None:
    """The summary of a scoring job: how many were flagged, and the most unusual items."""
    print(
        f"scored {result.count} items: {result.flagged} flagged ({result.flagged / max(result.count, 1):.1%}) "
        f"above {result.threshold:.4g} (contamination {result.contamination}); higher = more unusual"
    )
    print("most unusual:")
    for rank, item in enumerate(result.most_unusual, 1):
        where = item.get("path") or item.get("first_line") or ""
        print(f"{rank:>4}  {item['id']!s:<8} {item['score']:>10.4g}  {item['label']!s:<12} {where}")
    print(f"wrote {result.out}")


def cmd_evaluate_anomalies(args) -> None:
    from ..jobs import EvaluateAnomaliesRequest, evaluate_anomalies
    from ..jobs.anomalies import metrics_table

    result = evaluate_anomalies(
        EvaluateAnomaliesRequest(
            data=data_options(args),
            normal=args.normal.split(","),
            out=args.out,
            model=args.model,
            n_components=args.n_components,
            epochs=args.epochs,
            contamination=args.contamination,
            seed=args.seed,
            baselines=not args.no_baselines,
            overwrite=args.overwrite,
            verbose=not args.quiet,
        )
    )
    print(
        f"trained on {result.n_train} items labelled {', '.join(result.normal)}; scored {result.n_test} test items, "
        f"{result.n_anomalies} of them anomalies\n"
    )
    print(metrics_table(result.metrics))
    print(f"\nmetrics.json, curves.png, unusual.png and the model in {result.out}")
