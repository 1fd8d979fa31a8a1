"""``aelab demo``, ``train``, ``encode``, ``reconstruct``, ``evaluate`` and ``classify``: models
trained, applied and measured beside PCA."""

from __future__ import annotations

import sys

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
    data_options,
    limit_args,
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
    add_launch_args(p.add_argument_group("many processes (DistributedDataParallel; see docs/scaling.md)"))
    p.set_defaults(func=cmd_train)

    p = command(
        sub,
        "encode",
        "Write the codes of your data, a row per sample: a .npy array, or a Parquet table with ids, labels, paths.",
        "  aelab encode digits-ae --data digits --out codes.npy\n"
        "  aelab encode mnist-ae --data mnist --data-dir ../shared/data/mnist --split test --out test-codes.npy\n"
        "  aelab encode photos-ae --data photos/ --stream --out photos.parquet   # for pandas, polars, DuckDB\n",
    )
    p.add_argument("model", metavar="DIR", help="model folder")
    data_args(p)
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="FILE.npy (the codes alone) or FILE.parquet (id, label, path, code)",
    )
    p.add_argument("--split", choices=("all", "train", "test"), default="all", help="all is train followed by test")
    p.add_argument(
        "--stream",
        action="store_true",
        help="read the whole collection (a .npy file, an image folder, shards) a batch at a time (--out FILE.parquet)",
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_encode)

    p = command(
        sub,
        "export",
        "Write a trained auto-encoder's encoder and decoder as ONNX graphs, for onnxruntime and other runtimes.",
        "  aelab export digits-ae --format onnx --out digits-ae-onnx\n",
    )
    p.add_argument("model", metavar="DIR", help="model folder (an MLP or convolutional auto-encoder)")
    p.add_argument("--format", choices=("onnx",), default="onnx", help="what to write")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="folder to write: encoder.onnx, decoder.onnx and onnx.json"
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_export)

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
    from ..jobs.train import TrainRequest, train
    from ..models import PCA
    from ..training import checkpoint_path

    model = _estimator(args)
    request = TrainRequest(  # checked when made: before any process starts
        model,
        data_options(args),
        args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        stream=True if getattr(args, "stream", False) else None,
        workers=args.workers,
    )
    if launched(args, args.argv):
        return
    try:
        result = train(request, log=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        if not isinstance(model, PCA):
            print(
                f"\ninterrupted; the last finished epoch is saved in {checkpoint_path(args.out)}: run the same "
                "command with --resume to continue",
                file=sys.stderr,
            )
        raise
    if result.lines:  # rank 0 reports
        print("\n".join(result.lines))
        print(f"model saved in {args.out}")


def cmd_encode(args) -> None:
    from ..jobs.models import EncodeRequest, encode

    request = EncodeRequest(args.model, data_options(args), args.out, args.split, args.overwrite, args.stream)
    result = encode(request)
    print(f"wrote {result.n} codes of size {result.code_size} to {result.out}")


def cmd_export(args) -> None:
    from ..jobs.models import ExportRequest, export

    out = export(ExportRequest(args.model, args.out, args.format, args.overwrite))
    print(f"wrote {out / 'encoder.onnx'} (rows -> codes) and {out / 'decoder.onnx'} (codes -> rows), checked")


def cmd_reconstruct(args) -> None:
    from ..jobs.models import ReconstructRequest, reconstruct

    request = ReconstructRequest(
        args.model, data_options(args), args.out, args.split, args.n, args.noise, args.seed, args.overwrite
    )
    result = reconstruct(request)
    if result.noisy_error is not None:
        print(
            f"squared error per sample against the clean inputs: noisy input "
            f"{result.noisy_error:.4f}, reconstruction {result.error:.4f}"
        )
    print(f"wrote {args.out}")


def cmd_classify(args) -> None:
    from ..jobs.models import ClassifyRequest, classify
    from ..models import Classifier

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
    request = ClassifyRequest(model, data_options(args), args.out, args.n_labels, args.resume, args.overwrite)
    result = classify(request, log=lambda line: print(line, flush=True))
    print(f"trained {model.n_epochs_} epochs in {model.training_seconds_:.0f} s, hidden layers from {result.start}")
    print(f"test accuracy: {result.accuracy:.4f} (error {100 * (1 - result.accuracy):.2f}%) on {result.n_test} samples")
    print(f"model and confusion-matrix.png saved in {result.out}")


def cmd_evaluate(args) -> None:
    from ..jobs.models import EvaluateRequest, evaluate

    result = evaluate(EvaluateRequest(args.model, data_options(args), args.out, args.overwrite))
    print(f"data: {result.data}\n\n{result.table}\n")
    for sentence in result.sentences:
        print(sentence)
    print(f"figures and report in {result.out}")
