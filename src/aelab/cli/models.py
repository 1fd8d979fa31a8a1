"""``aelab demo``, ``train``, ``encode``, ``reconstruct``, ``evaluate`` and ``classify``: models
trained, applied and measured beside PCA."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import AelabError, ParameterError
from ..params import (
    ACTIVATIONS,
    CLASSIFIER_DEFAULTS,
    CONV_NORMALIZATIONS,
    MODEL_KINDS,
    NORMALIZATIONS,
    OUTPUT,
    REGULARIZATION,
    TRAINING_PARAMS,
    UNPOOLING,
    UPSAMPLING,
)
from .common import (
    SEED,
    add_params,
    binary_bits,
    command,
    data_args,
    limit_args,
    load_data,
    params_from,
    refuse,
    sizes,
    whole,
)
from .launch import add_launch_args, launched

TRAINING = tuple(p.name for p in TRAINING_PARAMS)
OUTPUT_NAMES = tuple(p.name for p in OUTPUT)


def add_commands(sub) -> None:
    p = command(
        sub,
        "demo",
        "Train a deep auto-encoder and PCA on the built-in digits and write a report.",
        "  aelab demo\n  aelab demo --out my-report\n",
    )
    p.add_argument("--out", metavar="DIR", help="report folder (default: aelab-demo, or aelab-demo-N if that exists)")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the data split and the models")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_demo)

    p = command(
        sub,
        "train",
        "Train an auto-encoder (or PCA) on your data and save it as a model folder.",
        "  aelab train --data digits --out digits-ae --n-components 2 --hidden 256-128-64\n"
        "  aelab train --data mnist --data-dir ../shared/data/mnist --out mnist-ae\n"
        "  aelab train --data table.csv --label-column species --out table-ae --loss mse\n"
        "  aelab train --data mnist --out mnist-ae --resume   # continue an interrupted run\n"
        "  aelab train --data mnist --out mnist-cae --model conv --unpooling nearest --epochs 10\n"
        "  aelab train --data mnist --out mnist-dae --denoise gaussian:0.3 --sparse l1:1e-4\n"
        "  aelab train --data mnist --out mnist-vae --n-components 2 --vae --beta 1 --beta-warmup 10\n"
        "  aelab train --data mnist --out mnist-greedy --pretrain greedy\n",
    )
    data_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    m = p.add_argument_group("model")
    m.add_argument(
        "--model",
        choices=MODEL_KINDS,
        default="autoencoder",
        help="what to train: an MLP auto-encoder, a convolutional one, or PCA",
    )
    m.add_argument(
        "--n-components",
        type=int,
        default=None,
        help="code size (default: 30; for --model conv, 0 makes the pooled feature maps the code)",
    )
    m.add_argument(
        "--hidden",
        type=sizes,
        default="auto",
        metavar="SIZES",
        help="encoder hidden sizes, e.g. 1000-500-250 (the decoder mirrors them); auto: 256-128 for fewer than 500 "
        "training samples, 512-256 for fewer than 10,000, else 1000-500-250",
    )
    m.add_argument(
        "--activation",
        default=None,
        choices=sorted(ACTIVATIONS),
        help="hidden-layer activation (default: gelu; conv: relu)",
    )
    m.add_argument(
        "--normalization",
        default=None,
        choices=sorted(NORMALIZATIONS),
        help="normalization after each hidden layer (default: batch; conv: none, or batch)",
    )
    add_params(m, OUTPUT_NAMES)
    add_params(m, ("contamination",))
    c = p.add_argument_group("convolutional model (--model conv)")
    c.add_argument(
        "--channels", type=sizes, default="16-8-8", metavar="SIZES", help="channels of each convolution + pooling stage"
    )
    c.add_argument("--kernel-size", type=whole(1), default=3, help="convolution kernel size (odd)")
    c.add_argument("--pool-size", type=whole(1), default=2, help="max-pooling block size")
    c.add_argument(
        "--unpooling",
        choices=("auto", *UNPOOLING),
        default="auto",
        help="max: back where the maximum was, zeros elsewhere; nearest: copy to the whole block; "
        "auto: max, or nearest for --binary and --variational codes",
    )
    c.add_argument(
        "--upsampling",
        choices=UPSAMPLING,
        default="deconv",
        help="decoder layer after each unpooling: transposed convolution or convolution",
    )
    r = p.add_argument_group("regularization (terms combine)")
    add_params(r, REGULARIZATION + ("decoder_weight_decay",))
    _pretraining_args(r)
    t = p.add_argument_group("training")
    add_params(t, TRAINING)
    _run_args(t)
    limit_args(t, "model_bytes")
    add_launch_args(p.add_argument_group("many processes (DistributedDataParallel; see the README's Scaling section)"))
    p.set_defaults(func=cmd_train)

    p = command(
        sub,
        "encode",
        "Write the codes of your data, one row per sample, as a .npy file.",
        "  aelab encode digits-ae --data digits --out codes.npy\n"
        "  aelab encode mnist-ae --data mnist --data-dir ../shared/data/mnist --split test --out test-codes.npy\n",
    )
    p.add_argument("model", metavar="DIR", help="model folder")
    data_args(p)
    p.add_argument("--out", required=True, metavar="FILE.npy")
    p.add_argument("--split", choices=("all", "train", "test"), default="all", help="all is train followed by test")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_encode)

    p = command(
        sub,
        "reconstruct",
        "Draw test samples and their reconstructions.",
        "  aelab reconstruct digits-ae --data digits --out reconstructions.png\n",
    )
    p.add_argument("model", metavar="DIR", help="model folder")
    data_args(p)
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.add_argument("-n", type=whole(1), default=10, help="number of samples")
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument(
        "--noise",
        metavar="KIND:LEVEL",
        help="corrupt the inputs first and show clean, noisy and reconstructed side by side: "
        "gaussian:SIGMA, mask:FRACTION or salt_pepper:FRACTION (default: a denoising "
        "model's own noise; 'none' for clean inputs)",
    )
    p.add_argument("--seed", type=SEED, default=0, help="seed of the noise")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_reconstruct)

    p = command(
        sub,
        "classify",
        "Train a classifier whose hidden layers come from an auto-encoder, and test it.",
        "  aelab classify --data mnist --n-labels 1000 --pretrain greedy --out clf-greedy\n"
        "  aelab classify --data mnist --n-labels 1000 --init mnist-ae --out clf-encoder\n"
        "  aelab classify --data mnist --hidden 500-500-2000 --out clf-random\n",
    )
    data_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write (with confusion-matrix.png)")
    m = p.add_argument_group("model")
    m.add_argument("--init", metavar="DIR", help="a trained auto-encoder whose encoder gives the hidden layers")
    _pretraining_args(m)
    m.add_argument(
        "--hidden", type=sizes, default="500-500-2000", metavar="SIZES", help="hidden sizes (ignored with --init)"
    )
    m.add_argument("--activation", default="gelu", choices=sorted(ACTIVATIONS))
    m.add_argument("--normalization", default="batch", choices=sorted(NORMALIZATIONS))
    m.add_argument(
        "--n-labels",
        type=whole(1),
        metavar="N",
        help="keep the labels of only N training samples (stratified by --seed); the rest are "
        "unlabelled inputs for --pretrain",
    )
    t = p.add_argument_group("training")
    add_params(t, TRAINING, **CLASSIFIER_DEFAULTS)
    _run_args(t)
    limit_args(t, "model_bytes")
    p.set_defaults(func=cmd_classify)

    p = command(
        sub,
        "evaluate",
        "Reconstruction error of a model beside PCA with the same code size, with figures.",
        "  aelab evaluate mnist-ae --data mnist --data-dir ../shared/data/mnist\n"
        "  aelab evaluate digits-ae --data digits --out digits-eval\n",
    )
    p.add_argument("model", metavar="DIR", help="model folder")
    data_args(p)
    p.add_argument("--out", metavar="DIR", help="folder for figures and metrics (default: DIR-evaluation[-N])")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_evaluate)


def _pretraining_args(g) -> None:
    g.add_argument("--pretrain", choices=("greedy",), help="greedy layer-wise pre-training before fine-tuning")
    g.add_argument("--pretrain-epochs", type=whole(1), default=10, help="epochs of each pre-trained layer")
    g.add_argument(
        "--pretrain-denoise",
        metavar="KIND:LEVEL",
        help="input noise of each pre-trained layer (stacked denoising auto-encoders), e.g. mask:0.5",
    )


def _run_args(g) -> None:
    g.add_argument("--resume", action="store_true", help="continue from the checkpoint of an interrupted run")
    g.add_argument("--overwrite", action="store_true", help="replace --out if it already holds a model")
    g.add_argument(
        "--stream",
        action="store_true",
        help="train from a .npy file memory-mapped, or an image folder decoded by worker processes, a batch at a "
        "time, on all its rows (for data larger than memory; WebDataset shards always train so); the report is on a "
        "sample of the training rows",
    )
    g.add_argument(
        "--workers",
        type=whole(0),
        metavar="N",
        help="processes that decode a streamed image folder's or shards' samples ahead of training (default: up to 4, "
        "one core left to training; 0 on a machine of 2 cores or fewer: decode in the training process)",
    )


# --- commands -------------------------------------------------------------------------------------


def cmd_demo(args) -> None:
    from ..demo import run_demo
    from ..storage import check_output, fresh_path

    out = check_output(args.out, args.overwrite) if args.out else fresh_path("aelab-demo")
    path = run_demo(out, seed=args.seed, overwrite=args.overwrite, progress=True, log=lambda s: print(s, flush=True))
    print(f"\nreport: {path.resolve()}")


#: ``aelab train``'s options of each kind of model, refused for the others
CONV_OPTIONS = ("channels", "kernel_size", "pool_size", "unpooling", "upsampling")
MLP_OPTIONS = ("hidden", "pretrain", "pretrain_epochs", "pretrain_denoise")
NET_OPTIONS = (
    ("activation", "normalization", "resume", "workers", "nproc_per_node")  # --stream: its own line
    + OUTPUT_NAMES
    + tuple(name for name in REGULARIZATION if name != "binary")  # --binary: its own line, below
    + ("decoder_weight_decay",)
    + tuple(name for name in TRAINING if name != "verbose")
)


def _estimator(args):
    """The estimator that ``aelab train``'s options describe."""
    from ..models import PCA, AutoEncoder, ConvAutoEncoder

    if args.model == "pca":
        refuse(args, NET_OPTIONS + CONV_OPTIONS + MLP_OPTIONS, "for --model pca (it is not trained in steps)")
    refuse(args, () if args.model == "conv" else CONV_OPTIONS, "without --model conv")
    refuse(args, MLP_OPTIONS if args.model == "conv" else (), "for --model conv")
    if not args.pretrain:
        refuse(args, ("pretrain_epochs", "pretrain_denoise"), "without --pretrain greedy")

    n_components = 30 if args.n_components is None else args.n_components
    bits, args.binary = args.binary, args.binary is not None  # --binary BITS: a binary code of BITS
    if bits is not None:
        if args.n_components is not None and args.n_components != bits:
            raise ParameterError(f"--binary {bits} gives {bits}-bit codes; leave out --n-components {n_components}")
        if args.model == "pca":
            raise ParameterError("--binary trains an auto-encoder; PCA's bits are indexed with --space pcah or itq")
        n_components = binary_bits(bits)
    if n_components < (0 if args.model == "conv" else 1):
        conv = " (or 0 for the pooled maps as the code)" if args.model == "conv" else ""
        raise ParameterError(f"--n-components must be at least 1{conv}, not {n_components}")
    scoring = params_from(args, ("contamination",))
    if args.model == "pca":
        return PCA(n_components=n_components, **scoring)
    terms = params_from(args, OUTPUT_NAMES + REGULARIZATION + ("decoder_weight_decay",) + TRAINING + ("contamination",))
    arch = {k: getattr(args, k) for k in ("activation", "normalization") if getattr(args, k) is not None}
    if args.model == "conv":
        if arch.get("normalization", "none") not in CONV_NORMALIZATIONS:
            raise AelabError(f"--normalization for --model conv is one of {', '.join(CONV_NORMALIZATIONS)}")
        return ConvAutoEncoder(
            n_components=n_components or None,
            channels=args.channels,
            kernel_size=args.kernel_size,
            pool_size=args.pool_size,
            unpooling=args.unpooling,
            upsampling=args.upsampling,
            **arch,
            **terms,
        )
    return AutoEncoder(
        n_components=n_components,
        hidden_layer_sizes=args.hidden,
        pretrain=args.pretrain,
        pretrain_epochs=args.pretrain_epochs,
        pretrain_denoise=args.pretrain_denoise,
        **arch,
        **terms,
    )


def cmd_train(args) -> None:
    from ..models import PCA, fit_to_folder
    from ..report import pca_twin, twin_note
    from ..storage import check_output
    from ..training import checkpoint_path
    from ..training.distributed import on_main, world

    on_main(check_output, args.out, args.overwrite)
    model = _estimator(args)
    if not isinstance(model, PCA):
        model.validate_params()  # bad options fail before the data is loaded, or any process starts
    if launched(args, args.argv):
        return
    if getattr(args, "stream", False) or (not isinstance(model, PCA) and _streams_by_itself(args.data)):
        return _train_streamed(args, model)
    refuse(args, ("workers",), "for data read into memory (they decode streamed images: --stream)")
    ds = load_data(args)
    if world().is_main:
        print(f"data: {ds!r}", flush=True)
    fit_kw = {} if isinstance(model, PCA) else {"y": ds.train.y}
    try:
        fit_to_folder(
            model,
            args.out,
            ds.train.X,
            image_shape=ds.image_shape,
            resume=args.resume,
            overwrite=args.overwrite,
            **fit_kw,
        )
    except KeyboardInterrupt:
        if not isinstance(model, PCA):
            print(
                f"\ninterrupted; the last finished epoch is saved in {checkpoint_path(args.out)}: run the same "
                "command with --resume to continue",
                file=sys.stderr,
            )
        raise
    if not world().is_main:  # rank 0 reports
        return
    if not isinstance(model, PCA):
        _report_training(model, len(ds.train))
    line = f"test reconstruction error: {model.reconstruction_error(ds.test.X):.4f} per sample"
    if not isinstance(model, PCA):
        twin = pca_twin(model, ds)
        note = twin_note(model, twin)
        line += f" (PCA-{twin.code_size}: {twin.reconstruction_error(ds.test.X):.4f}{'; ' + note if note else ''})"
    print(line)
    print(f"model saved in {args.out}")


def _streams_by_itself(data: str) -> bool:
    """Whether ``data`` trains streamed without --stream: WebDataset shards always do, and a .npy
    file that would take more than the in-memory budget as float32 (``STREAM_ABOVE_BYTES``, read
    from its header)."""
    from ..datasets import is_shards, open_memmap
    from ..models.torch_base import STREAM_ABOVE_BYTES, over_memory_budget
    from ..training.distributed import world

    if is_shards(data):
        return True
    if not (data.endswith(".npy") and Path(data).is_file()):
        return False
    X = open_memmap(data)
    if not over_memory_budget(X):
        return False
    if world().is_main:  # rank 0 reports
        print(
            f"data: {data} would take {X.size * 4 / 2**30:.1f} GiB in memory as float32 (more than "
            f"{STREAM_ABOVE_BYTES / 2**30:.0f} GiB): streaming it, as --stream does",
            flush=True,
        )
    return True


STREAM_REPORT_ROWS = 10_000  # the training rows a streamed run reports its error on, beside PCA's


def _train_streamed(args, model) -> None:
    """``aelab train --stream``: every row of a memory-mapped .npy, or every sample of an image
    folder or of WebDataset shards (decoded in worker processes), trains (the validation share
    inside training is the hold-out); the error is reported on a seeded sample of training rows."""
    import numpy as np

    from ..datasets import ImageRows, ShardRows, is_shards, open_memmap, parse_image_size
    from ..models import PCA, fit_to_folder
    from ..training.distributed import world

    if isinstance(model, PCA):
        raise AelabError("PCA reads its data in memory; drop --stream, or stream an auto-encoder")
    if is_shards(args.data) or Path(args.data).is_dir():
        shards = is_shards(args.data)
        X = (ShardRows if shards else ImageRows)(
            args.data, image_size=parse_image_size(args.image_size), workers=args.workers
        )
        where = f" in {len(X.shards)} WebDataset shard{'s' if len(X.shards) != 1 else ''}" if shards else ""
        decoders = (
            f"{X.workers} worker process{'es' if X.workers != 1 else ''}" if X.workers else "the training process"
        )
        what = f"{X.describe()}{where}, decoded in {decoders}"
    else:
        refuse(args, ("workers",), "for a memory-mapped .npy file (its rows need no decoding)")
        X = open_memmap(args.data)
        if np.issubdtype(X.dtype, np.integer) and X.dtype != np.uint8:
            raise AelabError(f"--stream reads uint8 pixels or real numbers, not {X.dtype}; convert {args.data} first")
        what = f"{len(X)} samples of shape {X.shape[1:]} ({X.dtype}), memory-mapped"
    if world().is_main:
        print(f"data: {args.data}: {what}", flush=True)
    fit_to_folder(model, args.out, X, stream=True, resume=args.resume, overwrite=args.overwrite)
    if not world().is_main:  # rank 0 reports
        return
    _report_training(model, len(X))
    rows = np.sort(np.random.default_rng(0).permutation(len(X))[:STREAM_REPORT_ROWS])
    sample = np.asarray(X[rows])  # uint8 pixels are scaled by the models as the loaders scale them
    size = min(model.code_size, len(sample), model.n_features_in_)
    twin = PCA(n_components=size).fit(sample, image_shape=model.image_shape_)
    print(
        f"reconstruction error on {len(rows)} training samples: {model.reconstruction_error(sample):.4f} per sample "
        f"(PCA-{twin.code_size} fitted on them: {twin.reconstruction_error(sample):.4f})"
    )
    print(f"model saved in {args.out}")


def _report_training(model, n_train: int) -> None:
    """What a training run chose and did, and a warning when it could hardly learn."""
    stop = " (stopped early)" if model.stopped_early_ else ""
    chosen = [
        f"{n} {v}"
        for n, v, given in (
            ("epochs", model.epochs_, model.epochs),
            ("batch size", model.batch_size_, model.batch_size),
            ("patience", model.patience_, model.patience),
            (
                "hidden layers",
                "-".join(map(str, getattr(model, "hidden_layer_sizes_", []))),
                getattr(model, "hidden_layer_sizes", None),
            ),
        )
        if given == "auto"
    ]
    chosen = f" ({', '.join(chosen)}: chosen for {n_train} training samples)" if chosen else ""
    print(
        f"trained {model.n_epochs_} epochs{stop} of {model.steps_per_epoch_} batches of {model.batch_size_} in "
        f"{model.training_seconds_:.0f} s{chosen}; best validation epoch: {model.best_epoch_}"
    )
    print(_terms_line(model.history_[-1]))
    if warning := model.training_warning():
        print(f"warning: {warning}")


def _terms_line(record: dict) -> str:
    """The last epoch's loss split into its terms: ``loss 80.1 = reconstruction 79.9 + sparse 0.2``."""
    terms = [k for k in record if k not in ("epoch", "loss", "val_loss", "seconds", "samples_per_s", "lr")]
    line = f"last epoch: training loss {record['loss']:.4g}"
    if terms:
        line += " (" + ", ".join(f"{k} {record[k]:.4g}" for k in terms) + ")"
    if "val_loss" in record:
        line += f"; validation loss {record['val_loss']:.4g}"
    return line


def code_model_and_data(args):
    """The model of ``args.model`` (one with codes) and the data of the data options, checked to fit."""
    from .. import load
    from ..models import CodeModel

    model = load(args.model)
    if not isinstance(model, CodeModel):
        raise AelabError(
            f"{args.model} holds a {type(model).__name__}, not a model with codes; "
            f"'aelab {args.command}' needs an auto-encoder or PCA"
        )
    ds = load_data(args)
    model.check_n_features(ds.n_features, f"--data {args.data}")
    if ds.image_shape is None:
        ds.image_shape = model.image_shape_
    return model, ds


def cmd_encode(args) -> None:
    import numpy as np

    from ..storage import atomic_path, check_output

    check_output(args.out, args.overwrite)
    model, ds = code_model_and_data(args)
    codes = model.transform(ds.split(args.split).X)
    with atomic_path(args.out, args.overwrite) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, codes)
    print(f"wrote {codes.shape[0]} codes of size {codes.shape[1]} to {args.out}")


def cmd_reconstruct(args) -> None:
    from ..models import squared_error
    from ..report import reconstruction_figure, save_figure
    from ..storage import check_output

    check_output(args.out, args.overwrite)
    model, ds = code_model_and_data(args)
    X = ds.split(args.split).X[: max(1, args.n)]
    trained_with = getattr(getattr(model, "regularization_", None), "denoise", None)  # "auto" resolved
    noise = args.noise if args.noise is not None else (str(trained_with) if trained_with else None)
    name = Path(args.model).name
    if noise in (None, "", "none"):
        rows = {name: model.reconstruct(X)}
    else:
        if not hasattr(model, "denoise_reconstruct"):
            raise AelabError(f"--noise needs an auto-encoder; {args.model} holds a {type(model).__name__}")
        noisy, recon = model.denoise_reconstruct(X, noise, seed=args.seed)
        rows = {f"noisy ({noise})": noisy, name: recon}
        print(
            f"squared error per sample against the clean inputs: noisy input "
            f"{squared_error(noisy, X):.4f}, reconstruction {squared_error(recon, X):.4f}"
        )
    save_figure(reconstruction_figure(X, rows, ds.image_shape), args.out, args.overwrite)
    print(f"wrote {args.out}")


def cmd_classify(args) -> None:
    from ..datasets import keep_labels
    from ..models import Classifier, fit_to_folder
    from ..report import confusion_matrix_figure, save_figure
    from ..storage import check_output

    out = check_output(args.out, args.overwrite)
    if args.init:
        refuse(args, ("hidden",), "with --init (its encoder brings its own layers)")
    if not args.pretrain:
        refuse(args, ("pretrain_epochs", "pretrain_denoise"), "without --pretrain greedy")
    model = Classifier(
        hidden_layer_sizes=args.hidden,
        activation=args.activation,
        normalization=args.normalization,
        init=args.init,
        pretrain=args.pretrain,
        pretrain_epochs=args.pretrain_epochs,
        pretrain_denoise=args.pretrain_denoise,
        **params_from(args, TRAINING),
    )
    model.validate_params()
    ds = load_data(args)
    if ds.train.y is None or ds.test.y is None:
        raise AelabError(f"--data {args.data} has no labels; classify needs labelled training and test samples")
    X, y, unlabelled = ds.train.X, ds.train.y, None
    if args.n_labels is not None:
        X, y, unlabelled = keep_labels(X, y, args.n_labels, args.random_state)
    print(
        f"data: {ds!r}; {len(X)} labelled training samples"
        + (f", {len(unlabelled)} unlabelled" if unlabelled is not None else ""),
        flush=True,
    )
    fit_to_folder(
        model,
        out,
        X,
        y,
        X_unlabelled=unlabelled if args.pretrain else None,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    predicted = model.predict(ds.test.X)
    accuracy = float((predicted == ds.test.y).mean())
    start = f"the encoder of {args.init}" if args.init else "greedy pre-training" if args.pretrain else "random weights"
    fig = confusion_matrix_figure(
        ds.test.y, predicted, ds.classes, title=f"{ds.name}: test accuracy {accuracy:.4f} ({start})"
    )
    save_figure(fig, out / "confusion-matrix.png", overwrite=True)
    print(f"trained {model.n_epochs_} epochs in {model.training_seconds_:.0f} s, hidden layers from {start}")
    print(f"test accuracy: {accuracy:.4f} (error {100 * (1 - accuracy):.2f}%) on {len(predicted)} samples")
    print(f"model and confusion-matrix.png saved in {out}")


def cmd_evaluate(args) -> None:
    from ..report import evaluate_model
    from ..storage import check_output

    if args.out:
        check_output(args.out, args.overwrite)
    model, ds = code_model_and_data(args)
    result = evaluate_model(model, ds, str(args.model), args.out, args.overwrite)
    print(f"data: {ds!r}\n\n{result['table']}\n")
    for s in result["sentences"]:
        print(s)
    print(f"figures and report in {result['out']}")
