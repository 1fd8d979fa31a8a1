"""The ``aelab`` command: argument parsing over the Python API, nothing more.

Every user error ends as one line on stderr (``aelab: error: ...``) and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from . import __version__
from .errors import AelabError
from .models import AutoEncoder, Classifier, ConvAutoEncoder
from .models.conv import UNPOOLING, UPSAMPLING
from .models.mlp import ACTIVATIONS, LOSS_CHOICES, NORMALIZATIONS, OUTPUT_ACTIVATIONS, SCALINGS
from .search import KINDS, METRICS, SPACES
from .train import PRECISIONS, SCHEDULES

EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; every option's default shown."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if action.option_strings and "%(default)" not in text and not (
                default is None or default is False or default is argparse.SUPPRESS):
            text += " (default: %(default)s)"
        return text


def _command(sub, name: str, help: str, examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help, formatter_class=_Formatter,
                          epilog="examples:\n" + examples)


def _data_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", required=required, metavar="SPEC",
                   help="digits, mnist, fashion-mnist, a folder (IDX files or images in label sub-folders), "
                        "or a .npy, .npz, .csv or IDX file")
    g.add_argument("--data-dir", metavar="DIR", help="folder holding the IDX files of mnist / fashion-mnist")
    g.add_argument("--test-size", type=float, default=0.2, help="hold-out share for data without its own split")
    g.add_argument("--split-seed", type=int, default=0, help="seed of that hold-out")
    g.add_argument("--label-column", metavar="NAME", help="label column of a CSV table (name or index)")
    g.add_argument("--image-size", metavar="HxW", help="resize every image of an image folder to this size")


def _load_data(args):
    from . import datasets

    return datasets.load(args.data, args.data_dir, test_size=args.test_size, seed=args.split_seed,
                         label_column=args.label_column, image_size=datasets.parse_image_size(args.image_size))


def _model_and_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="DIR", help="model folder")
    _data_args(p)


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.replace(",", "-").split("-") if s.strip())
        if any(s < 1 for s in sizes):
            raise ValueError
        return sizes
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of positive sizes like 1000-500-250") from None


def _training_args(t, d: dict) -> None:
    """The training options, with the defaults ``d`` of the estimator they feed."""
    t.add_argument("--epochs", type=int, default=d["epochs"], help="passes over the training data")
    t.add_argument("--batch-size", type=int, default=d["batch_size"], help="samples per step")
    t.add_argument("--lr", type=float, default=d["learning_rate"], help="peak learning rate (AdamW)")
    t.add_argument("--lr-schedule", default=d["lr_schedule"], choices=SCHEDULES, help="learning-rate schedule")
    t.add_argument("--weight-decay", type=float, default=d["weight_decay"], help="AdamW weight decay")
    t.add_argument("--validation-fraction", type=float, default=d["validation_fraction"],
                   help="share of the training data held out for validation and early stopping")
    t.add_argument("--patience", type=int, default=d["patience"],
                   help="early-stopping patience in epochs (0: never stop early)")
    t.add_argument("--precision", choices=PRECISIONS, default=d["precision"],
                   help="bfloat16: mixed-precision training (faster on CPUs with bf16 units)")
    t.add_argument("--seed", type=int, default=0, help="seed for initialisation, validation split and shuffling")
    t.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint of an interrupted run")
    t.add_argument("--overwrite", action="store_true", help="replace --out if it already holds a model")
    t.add_argument("--quiet", action="store_true", help="no progress bar")


def _training_kwargs(args) -> dict:
    return dict(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, lr_schedule=args.lr_schedule,
                weight_decay=args.weight_decay, validation_fraction=args.validation_fraction,
                patience=args.patience or None, precision=args.precision, random_state=args.seed,
                device=args.device, verbose=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aelab", formatter_class=_Formatter,
        description="Auto-encoders beside PCA: train, encode, reconstruct, evaluate.",
        epilog="examples:\n  aelab demo\n  aelab train --data mnist --data-dir ../shared/data/mnist --out mnist-ae\n"
               "  aelab evaluate mnist-ae --data mnist --data-dir ../shared/data/mnist\n\n"
               "Run 'aelab COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"aelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(sub, "demo", "Train a deep auto-encoder and PCA on the built-in digits and write a report.",
                 "  aelab demo\n  aelab demo --out my-report\n")
    p.add_argument("--out", metavar="DIR", help="report folder (default: aelab-demo, or aelab-demo-N if that exists)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data split and the models")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_demo)

    p = _command(sub, "train", "Train an auto-encoder (or PCA) on your data and save it as a model folder.",
                 "  aelab train --data digits --out digits-ae --n-components 2 --hidden 256-128-64\n"
                 "  aelab train --data mnist --data-dir ../shared/data/mnist --out mnist-ae\n"
                 "  aelab train --data table.csv --label-column species --out table-ae --loss mse\n"
                 "  aelab train --data mnist --out mnist-ae --resume   # continue an interrupted run\n"
                 "  aelab train --data mnist --out mnist-cae --model conv --unpooling nearest --epochs 10\n"
                 "  aelab train --data mnist --out mnist-dae --denoise gaussian:0.3 --sparse l1:1e-4\n"
                 "  aelab train --data mnist --out mnist-vae --n-components 2 --vae --beta 1 --beta-warmup 10\n"
                 "  aelab train --data mnist --out mnist-greedy --pretrain greedy\n")
    _data_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    d = AutoEncoder().get_params()  # one source of truth for the recipe's defaults
    dc = ConvAutoEncoder().get_params()
    m = p.add_argument_group("model")
    m.add_argument("--model", choices=("autoencoder", "conv", "pca"), default="autoencoder",
                   help="what to train: an MLP auto-encoder, a convolutional one, or PCA")
    m.add_argument("--n-components", type=int, default=None,
                   help=f"code size (default: {d['n_components']}; for conv, the pooled feature maps unless given)")
    m.add_argument("--hidden", type=_hidden, default="-".join(map(str, d["hidden_layer_sizes"])), metavar="SIZES",
                   help="encoder hidden sizes, e.g. 1000-500-250 (the decoder mirrors them)")
    m.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS),
                   help=f"hidden-layer activation (default: {d['activation']}; conv: {dc['activation']})")
    m.add_argument("--normalization", default=None, choices=sorted(NORMALIZATIONS),
                   help=f"normalization after each hidden layer (default: {d['normalization']}; "
                        f"conv: {dc['normalization']})")
    c = p.add_argument_group("convolutional model (--model conv)")
    c.add_argument("--channels", type=_hidden, default="-".join(map(str, dc["channels"])), metavar="SIZES",
                   help="channels of each convolution + pooling stage")
    c.add_argument("--kernel-size", type=int, default=dc["kernel_size"], help="convolution kernel size (odd)")
    c.add_argument("--pool-size", type=int, default=dc["pool_size"], help="max-pooling block size")
    c.add_argument("--unpooling", choices=UNPOOLING, default=dc["unpooling"],
                   help="max: back where the maximum was, zeros elsewhere; nearest: copy to the whole block")
    c.add_argument("--upsampling", choices=UPSAMPLING, default=dc["upsampling"],
                   help="decoder layer after each unpooling: transposed convolution or convolution")
    r = p.add_argument_group("regularization (terms combine)")
    r.add_argument("--denoise", metavar="KIND:LEVEL",
                   help="denoising: gaussian:SIGMA, mask:FRACTION or salt_pepper:FRACTION input noise")
    r.add_argument("--sparse", metavar="SPEC", help="sparse code: l1:WEIGHT or kl:WEIGHT[:RATE]")
    r.add_argument("--contractive", type=float, default=0.0, metavar="WEIGHT",
                   help="contractive: weight of the encoder Jacobian's squared Frobenius norm")
    r.add_argument("--code-l2", type=float, default=0.0, metavar="WEIGHT",
                   help="weight of the code's squared norm (codes near zero, for generation)")
    r.add_argument("--decoder-weight-decay", type=float, metavar="WD",
                   help="weight decay of the decoder alone (default: --weight-decay)")
    r.add_argument("--vae", action="store_true", help="variational auto-encoder (Gaussian encoder, KL term)")
    r.add_argument("--beta", type=float, default=1.0, help="weight of the variational KL term")
    r.add_argument("--beta-warmup", type=int, default=0, metavar="EPOCHS",
                   help="raise beta linearly from 0 over this many epochs")
    r.add_argument("--pretrain", choices=("greedy",), help="greedy layer-wise pre-training before fine-tuning")
    r.add_argument("--pretrain-epochs", type=int, default=d["pretrain_epochs"],
                   help="epochs of each pre-trained layer")
    r.add_argument("--pretrain-denoise", metavar="KIND:LEVEL",
                   help="input noise of each pre-trained layer (stacked denoising auto-encoders), e.g. mask:0.5")
    m.add_argument("--output-activation", default=d["output_activation"], choices=OUTPUT_ACTIVATIONS,
                   help="auto: sigmoid for data in [0, 1], linear otherwise; softmax for word counts")
    m.add_argument("--loss", default=d["loss"], choices=LOSS_CHOICES,
                   help="reconstruction loss; auto is bce for data in [0, 1], multinomial for a softmax output, "
                        "mse otherwise")
    m.add_argument("--scaling", default=d["scaling"], choices=SCALINGS,
                   help="input scaling; auto: none for data in [0, 1], standard otherwise")
    _training_args(p.add_argument_group("training"), d)
    p.set_defaults(func=cmd_train)

    p = _command(sub, "encode", "Write the codes of your data, one row per sample, as a .npy file.",
                 "  aelab encode digits-ae --data digits --out codes.npy\n"
                 "  aelab encode mnist-ae --data mnist --data-dir ../shared/data/mnist --split test --out test-codes.npy\n")
    _model_and_data_args(p)
    p.add_argument("--out", required=True, metavar="FILE.npy")
    p.add_argument("--split", choices=("all", "train", "test"), default="all", help="all is train followed by test")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_encode)

    p = _command(sub, "reconstruct", "Draw test samples and their reconstructions.",
                 "  aelab reconstruct digits-ae --data digits --out reconstructions.png\n")
    _model_and_data_args(p)
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.add_argument("-n", type=int, default=10, help="number of samples")
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--noise", metavar="KIND:LEVEL",
                   help="corrupt the inputs first and show clean, noisy and reconstructed side by side: "
                        "gaussian:SIGMA, mask:FRACTION or salt_pepper:FRACTION (default: a denoising "
                        "model's own noise; 'none' for clean inputs)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_reconstruct)

    p = _command(sub, "index", "Encode a collection and store it as a searchable index folder (FAISS).",
                 "  aelab index mnist-ae --data mnist --data-dir ../shared/data/mnist --out mnist-codes\n"
                 "  aelab index --space pixels --data mnist --out mnist-pixels --metric l2\n"
                 "  aelab index mnist-ae --space pca --data mnist --out mnist-pca\n"
                 "  aelab index --add mnist-codes --data more-images/   # add items to an existing index\n")
    p.add_argument("model", metavar="DIR", nargs="?", help="trained model folder (for --space code; for --space "
                   "pca it sets the code size)")
    _data_args(p)
    p.add_argument("--out", metavar="INDEX", help="index folder to write")
    p.add_argument("--add", metavar="INDEX", help="add the data to this existing index instead (same space)")
    p.add_argument("--space", choices=SPACES, default="code", help="code: the model's codes; pca: PCA scores "
                   "fitted on the collection; pixels: the raw inputs (the baseline)")
    p.add_argument("--n-components", type=int, help="PCA size for --space pca without a model (default 30)")
    p.add_argument("--metric", choices=METRICS, default="cosine", help="similarity, fixed when indexing")
    p.add_argument("--kind", choices=KINDS, default="auto",
                   help="exact search, approximate HNSW or IVF, or auto (exact up to 200,000 items, IVF above)")
    p.add_argument("--split", choices=("all", "train", "test"), default="train", help="which samples to index")
    p.add_argument("--batch-size", type=int, default=8192, help="samples encoded and added at a time")
    p.add_argument("--stream", action="store_true", help="read a .npy file (memory-mapped) or an image folder a "
                   "batch at a time, for collections larger than memory; every sample is indexed (no split)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(func=cmd_index)

    p = _command(sub, "search", "The nearest items of an index to a query image, file or item id.",
                 "  aelab search mnist-codes --query train:7 -k 10\n"
                 "  aelab search photos-index --query cat.png --figure neighbours.png\n"
                 "  aelab search mnist-codes --query test-image.npy --json\n")
    p.add_argument("index", metavar="INDEX", help="index folder written by 'aelab index'")
    p.add_argument("--query", required=True, metavar="FILE_OR_ID",
                   help="an item id of the index, an image file, or a .npy file with one sample")
    p.add_argument("-k", type=int, default=10, help="number of neighbours")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--figure", metavar="FILE.png", help="draw the query beside its neighbours")
    p.add_argument("--beside", metavar="INDEX", help="with --figure: also draw the neighbours found in this index "
                   "of the same collection (e.g. its pixel-space index)")
    p.add_argument("--overwrite", action="store_true", help="replace --figure if it exists")
    p.set_defaults(func=cmd_search)

    p = _command(sub, "evaluate-retrieval", "Precision, mean average precision, precision-recall and speed of "
                 "indexes, with labels as relevance.",
                 "  aelab evaluate-retrieval --index mnist-codes --index mnist-pca --index mnist-pixels \\\n"
                 "      --queries mnist --data-dir ../shared/data/mnist\n")
    p.add_argument("--index", required=True, action="append", metavar="INDEX",
                   help="index folder (repeat to compare spaces side by side)")
    g = p.add_argument_group("queries")
    g.add_argument("--queries", required=True, metavar="SPEC", help="labelled data whose samples are the queries")
    g.add_argument("--data-dir", metavar="DIR", help="folder holding the IDX files of mnist / fashion-mnist")
    g.add_argument("--split", choices=("train", "test", "all"), default="test", help="which samples query")
    g.add_argument("--n-queries", type=int, help="use only the first N queries")
    g.add_argument("--test-size", type=float, default=0.2, help="hold-out share for data without its own split")
    g.add_argument("--split-seed", type=int, default=0, help="seed of that hold-out")
    g.add_argument("--label-column", metavar="NAME", help="label column of a CSV table (name or index)")
    g.add_argument("--image-size", metavar="HxW", help="resize every image of an image folder to this size")
    p.add_argument("--out", metavar="DIR", help="folder for metrics.json and the precision-recall figure "
                   "(default: INDEX-retrieval[-N])")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_evaluate_retrieval)

    p = _command(sub, "classify", "Train a classifier whose hidden layers come from an auto-encoder, and test it.",
                 "  aelab classify --data mnist --n-labels 1000 --pretrain greedy --out clf-greedy\n"
                 "  aelab classify --data mnist --n-labels 1000 --init mnist-ae --out clf-encoder\n"
                 "  aelab classify --data mnist --hidden 500-500-2000 --out clf-random\n")
    _data_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write (with confusion-matrix.png)")
    dk = Classifier().get_params()
    m = p.add_argument_group("model")
    m.add_argument("--init", metavar="DIR", help="a trained auto-encoder whose encoder gives the hidden layers")
    m.add_argument("--pretrain", choices=("greedy",), help="greedy layer-wise pre-training of the hidden layers "
                   "on all training inputs, labelled or not")
    m.add_argument("--pretrain-epochs", type=int, default=dk["pretrain_epochs"], help="epochs of each layer")
    m.add_argument("--pretrain-denoise", metavar="KIND:LEVEL",
                   help="input noise of each pre-trained layer (stacked denoising auto-encoders), e.g. mask:0.5")
    m.add_argument("--hidden", type=_hidden, default="-".join(map(str, dk["hidden_layer_sizes"])), metavar="SIZES",
                   help="hidden sizes (ignored with --init)")
    m.add_argument("--activation", default=dk["activation"], choices=sorted(ACTIVATIONS))
    m.add_argument("--normalization", default=dk["normalization"], choices=sorted(NORMALIZATIONS))
    m.add_argument("--n-labels", type=int, metavar="N",
                   help="keep the labels of only N training samples (stratified by --seed); the rest are "
                        "unlabelled inputs for --pretrain")
    _training_args(p.add_argument_group("training"), dk)
    p.set_defaults(func=cmd_classify)

    p = _command(sub, "evaluate", "Reconstruction error of a model beside PCA with the same code size, with figures.",
                 "  aelab evaluate mnist-ae --data mnist --data-dir ../shared/data/mnist\n"
                 "  aelab evaluate digits-ae --data digits --out digits-eval\n")
    _model_and_data_args(p)
    p.add_argument("--out", metavar="DIR", help="folder for figures and metrics (default: DIR-evaluation[-N])")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    from .cli_generate import add_generate_commands
    from .cli_text import add_text_commands

    add_text_commands(sub, _command, _hidden)
    add_generate_commands(sub, _command, _data_args)
    return parser


# --- commands -------------------------------------------------------------------------------------

def cmd_demo(args) -> None:
    from .demo import run_demo
    from .storage import check_output, fresh_path

    out = check_output(args.out, args.overwrite) if args.out else fresh_path("aelab-demo")
    path = run_demo(out, seed=args.seed, overwrite=args.overwrite, progress=True,
                    log=lambda s: print(s, flush=True))
    print(f"\nreport: {path.resolve()}")


def cmd_train(args) -> None:
    from .models import PCA
    from .report import pca_twin
    from .storage import check_output

    out = check_output(args.out, args.overwrite)
    ds = _load_data(args)
    print(f"data: {ds!r}", flush=True)
    if args.model == "pca":
        model = PCA(n_components=args.n_components or 30).fit(ds.train.X, image_shape=ds.image_shape)
    else:
        terms = dict(output_activation=args.output_activation, loss=args.loss, scaling=args.scaling,
                     denoise=args.denoise, sparse=args.sparse, contractive=args.contractive, code_l2=args.code_l2,
                     decoder_weight_decay=args.decoder_weight_decay, variational=args.vae, beta=args.beta,
                     beta_warmup=args.beta_warmup, **_training_kwargs(args))
        arch = {k: getattr(args, k) for k in ("activation", "normalization") if getattr(args, k) is not None}
        if args.model == "conv":
            if args.pretrain:
                raise AelabError("--pretrain greedy is for MLP auto-encoders (--model autoencoder)")
            model = ConvAutoEncoder(n_components=args.n_components or None, channels=args.channels,
                                    kernel_size=args.kernel_size, pool_size=args.pool_size, unpooling=args.unpooling,
                                    upsampling=args.upsampling, **arch, **terms)
        else:
            model = AutoEncoder(n_components=args.n_components or 30, hidden_layer_sizes=args.hidden,
                                pretrain=args.pretrain, pretrain_epochs=args.pretrain_epochs,
                                pretrain_denoise=args.pretrain_denoise, **arch, **terms)
        checkpoint = checkpoint_path(out)
        try:
            model.fit(ds.train.X, ds.train.y, image_shape=ds.image_shape, checkpoint_dir=checkpoint,
                      resume=args.resume)
        except KeyboardInterrupt:
            print(f"\ninterrupted; the last finished epoch is saved in {checkpoint}: run the same command "
                  "with --resume to continue", file=sys.stderr)
            raise
    model.save(out, overwrite=args.overwrite)
    if args.model != "pca":
        shutil.rmtree(checkpoint_path(out), ignore_errors=True)
        stop = " (stopped early)" if model.stopped_early_ else ""
        print(f"trained {model.n_epochs_} epochs{stop} in {model.training_seconds_:.0f} s; "
              f"best validation epoch: {model.best_epoch_}")
        print(_terms_line(model.history_[-1]))
    error = model.reconstruction_error(ds.test.X)
    line = f"test reconstruction error: {error:.4f} per sample"
    if args.model != "pca":
        line += f" (PCA-{model.code_size}: {pca_twin(model, ds).reconstruction_error(ds.test.X):.4f})"
    print(line)
    print(f"model saved in {out}")


def _terms_line(record: dict) -> str:
    """The last epoch's loss split into its terms: ``loss 80.1 = reconstruction 79.9 + sparse 0.2``."""
    terms = [k for k in record if k not in ("epoch", "loss", "val_loss", "seconds", "samples_per_s", "lr")]
    line = f"last epoch: training loss {record['loss']:.4g}"
    if terms:
        line += " (" + ", ".join(f"{k} {record[k]:.4g}" for k in terms) + ")"
    if "val_loss" in record:
        line += f"; validation loss {record['val_loss']:.4g}"
    return line


def checkpoint_path(out) -> Path:
    """Where ``aelab train --out DIR`` keeps the checkpoint of an unfinished run: ``DIR.checkpoint``."""
    out = Path(out)
    return out.with_name(out.name + ".checkpoint")


def _model_and_data(args):
    from . import load
    from .models import CodeModel

    model = load(args.model)
    if not isinstance(model, CodeModel):
        raise AelabError(f"{args.model} holds a {type(model).__name__}, not a model with codes; "
                         f"'aelab {args.command}' needs an auto-encoder or PCA")
    ds = _load_data(args)
    model.check_n_features(ds.n_features, f"--data {args.data}")
    if ds.image_shape is None:
        ds.image_shape = model.image_shape_
    return model, ds


def cmd_encode(args) -> None:
    import numpy as np

    from .storage import atomic_path, check_output

    check_output(args.out, args.overwrite)
    model, ds = _model_and_data(args)
    codes = model.transform(ds.split(args.split).X)
    with atomic_path(args.out, args.overwrite) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, codes)
    print(f"wrote {codes.shape[0]} codes of size {codes.shape[1]} to {args.out}")


def cmd_reconstruct(args) -> None:
    from . import plots
    from .models.base import squared_error
    from .storage import check_output

    check_output(args.out, args.overwrite)
    model, ds = _model_and_data(args)
    X = ds.split(args.split).X[: max(1, args.n)]
    noise = args.noise if args.noise is not None else getattr(model, "denoise", None)
    name = Path(args.model).name
    if noise in (None, "", "none"):
        rows = {name: model.reconstruct(X)}
    else:
        if not hasattr(model, "denoise_reconstruct"):
            raise AelabError(f"--noise needs an auto-encoder; {args.model} holds a {type(model).__name__}")
        noisy, recon = model.denoise_reconstruct(X, noise, seed=args.seed)
        rows = {f"noisy ({noise})": noisy, name: recon}
        print(f"squared error per sample against the clean inputs: noisy input "
              f"{squared_error(noisy, X):.4f}, reconstruction {squared_error(recon, X):.4f}")
    fig = plots.reconstruction_figure(X, rows, ds.image_shape)
    plots.save_figure(fig, args.out, args.overwrite)
    print(f"wrote {args.out}")


def cmd_index(args) -> None:
    import numpy as np

    from .search import Index
    from .storage import check_output

    if (args.out is None) == (args.add is None):
        raise AelabError("give --out INDEX for a new index, or --add INDEX to add to an existing one")
    out = Path(args.add) if args.add else check_output(args.out, args.overwrite)
    if args.batch_size < 1:
        raise AelabError(f"--batch-size must be at least 1, not {args.batch_size}")
    if args.add:
        index = Index.load(args.add)
    else:
        index = Index(metric=args.metric, kind=args.kind, space=args.space)
        index.model = _index_model(args)
    source = _index_source(args)
    if index.model is None:
        if index.dimension and source.n_features != index.dimension:
            raise AelabError(f"--data {args.data} has {source.n_features} features per sample but the index holds "
                             f"{index.dimension}-D pixel vectors")
    elif args.add or args.space == "code":  # a new PCA is fitted on this data below
        index.model.check_n_features(source.n_features, f"--data {args.data}")
    split = "all" if args.stream else args.split
    prefix = "row:" if args.stream else f"{split}:"
    if args.add:  # ids of added items name their source, so that they never collide with the first ones
        prefix = f"{Path(args.data).name}/{prefix}"
        if any(i.startswith(prefix) for i in index.ids):
            raise AelabError(f"{args.add} already holds items from {args.data} ({split}); nothing was added")
    else:
        if args.space == "pca":  # fitted on up to 20,000 samples spread over the collection
            rows = np.unique(np.linspace(0, source.n - 1, min(source.n, 20000)).astype(int))
            index.model.fit(np.concatenate([source.rows(r, r + 1) for r in rows]) if args.stream
                            else source.rows(0, source.n), image_shape=source.image_shape)
        index.info = {"data": args.data, "data_dir": args.data_dir, "split": split, "stream": bool(args.stream),
                      "image_shape": list(source.image_shape) if source.image_shape else None}
    for start, X in source.batches(args.batch_size):
        stop = start + len(X)
        index.add(index.encode(X), [f"{prefix}{n}" for n in range(start, stop)],
                  None if source.paths is None else source.paths[start:stop],
                  None if source.labels is None else source.labels[start:stop])
    index.save(out, overwrite=bool(args.add))
    print(f"{'added' if args.add else 'indexed'} {source.n} items ({index.space} space, {index.dimension}-D, "
          f"{index.metric}, {getattr(index, 'kind_', index.kind)} search); {len(index)} items in {out}")


def _index_source(args):
    """The samples to index: streamed in batches (``--stream``) or one split of a loaded data set."""
    from .datasets import parse_image_size
    from .datasets.stream import Stream, open_stream

    if args.stream:
        return open_stream(args.data, parse_image_size(args.image_size))
    ds = _load_data(args)
    split = ds.split(args.split)
    paths = [str(i) if isinstance(i, str) else None for i in split.ids] if split.ids is not None else None
    return Stream(ds.name, len(split.X), ds.n_features, ds.image_shape,
                  labels=None if split.y is None else split.y.tolist(), paths=paths,
                  _read=lambda start, stop: split.X[start:stop])


def _index_model(args):
    """What encodes the collection and later the queries: the model, a PCA, or nothing (pixels)."""
    from . import load
    from .models import PCA, CodeModel

    if args.space == "pixels":
        return None
    model = load(args.model) if args.model else None
    if model is not None and not isinstance(model, CodeModel):
        raise AelabError(f"{args.model} holds a {type(model).__name__}, not a model with codes")
    if args.space == "pca":
        size = args.n_components or (model.code_size if model is not None else 30)
        return PCA(n_components=size)
    if model is None:
        raise AelabError("--space code needs a trained model folder: aelab index DIR --data SPEC --out INDEX")
    return model


def cmd_search(args) -> None:
    import json

    from .search import Index

    index = Index.load(args.index)
    if args.figure:
        from .storage import check_output

        check_output(args.figure, args.overwrite)
    query, what = _query_vector(index, args.query)
    found = index.query(query, args.k)
    rows = [{"rank": r + 1, "id": found.ids[0][r], "score": float(found.scores[0][r]),
             "label": None if found.labels is None else found.labels[0][r],
             "path": index.paths[found.positions[0][r]]}
            for r in range(found.positions.shape[1]) if found.positions[0][r] >= 0]
    if args.json:
        print(json.dumps({"query": args.query, "metric": index.metric, "space": index.space, "neighbours": rows}))
    else:
        score = "distance" if index.metric == "l2" else "similarity"
        print(f"query: {what}; {index.space} space, {index.metric} {score}")
        print(f"{'rank':>4}  {'id':<14} {score:>10}  {'label':<10} path")
        for row in rows:
            print(f"{row['rank']:>4}  {row['id']:<14} {row['score']:>10.4f}  {str(row['label']):<10} "
                  f"{row['path'] or ''}")
    if args.figure:
        _neighbour_figure(index, args, rows)
        print(f"wrote {args.figure}")
    elif args.beside:
        raise AelabError("--beside draws a second row of the figure: give --figure FILE.png too")


def _query_vector(index, query: str):
    """The query's vector in the index's space, and a description of it."""
    path = Path(query)
    if not path.exists():
        return index.vector(index.position(query)), f"item {query}"
    X = _read_query_file(index, path)
    return index.encode(X), str(path)


def _read_query_file(index, path: Path):
    shape = tuple(index.info.get("image_shape") or ()) or None
    n_features = index.model.n_features_in_ if index.model is not None else index.dimension
    return read_sample_file(path, shape, n_features, "the index holds", "or an item id of the index")


def read_sample_file(path: Path, shape, n_features: int, holder: str, other: str):
    """One sample from an image file or a ``.npy`` array, checked against what ``holder`` (e.g.
    "the model takes") expects: ``n_features`` values, images of ``shape``."""
    import numpy as np

    from .datasets.images import is_image_file

    if path.suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False).astype(np.float32)
        except ValueError as exc:
            raise AelabError(f"{path} is not a readable .npy array ({exc})") from None
        X = X.reshape(1, -1)
    elif is_image_file(path):
        X = _read_query_image(path, shape, holder)
    else:
        raise AelabError(f"{path} is neither an image file nor a .npy array; give an image, a .npy file {other}")
    if X.shape[1] != n_features:
        where = f" ({'x'.join(map(str, shape))} images)" if shape else ""
        raise AelabError(f"the query {path} has {X.shape[1]} values but {holder} samples of {n_features}{where}")
    return X


def _read_query_image(path: Path, shape, holder: str = "the index holds"):
    from PIL import Image, UnidentifiedImageError

    from .datasets.images import _GREY_MODES, read_images

    try:
        with Image.open(path) as img:
            mode, (width, height) = img.mode, img.size
    except (UnidentifiedImageError, OSError):
        raise AelabError(f"{path} cannot be read as an image; give an image file, a .npy file or an item id") \
            from None
    if shape is not None:
        channels = shape[2] if len(shape) == 3 else 1
        colour = mode not in _GREY_MODES  # the same rule as the image-folder loader
        if (height, width) != tuple(shape[:2]):
            raise AelabError(f"the query image {path} is {height}x{width} but {holder} "
                             f"{shape[0]}x{shape[1]} images; resize it first")
        if colour != (channels == 3):
            raise AelabError(f"the query image {path} is {'colour' if colour else 'grey'} but {holder} "
                             f"{'colour' if channels == 3 else 'grey'} images")
        return read_images([path], colour=channels == 3)[0]
    return read_images([path])[0]


def _neighbour_figure(index, args, rows) -> None:
    """The query beside its neighbours (and, with ``--beside``, beside those another index of the
    same collection finds). Pixels come from the indexed data set (reloaded) or from the items'
    image files; items with neither are drawn blank."""
    import numpy as np

    from . import datasets, plots
    from .search import Index

    info = index.info
    shape = tuple(info.get("image_shape") or ()) or None
    if info.get("stream"):
        from .datasets.stream import open_stream

        pool, prefix = open_stream(info["data"], tuple(shape[:2]) if shape else None), "row:"
    else:
        ds = datasets.load(info["data"], info.get("data_dir"))
        pool, prefix = ds.split(info.get("split", "train")), f"{info.get('split', 'train')}:"

    def pixels(item_id: str, path: str | None):
        if item_id.startswith(prefix):
            row = int(item_id[len(prefix):])
            return pool.rows(row, row + 1)[0] if info.get("stream") else pool.X[row]
        if path and Path(path).exists() and index.model is not None:
            return _read_query_file(index, Path(path))[0]
        return None

    query = Path(args.query)
    first = _read_query_file(index, query)[0] if query.exists() else pixels(args.query, None)
    blank = np.zeros(int(np.prod(shape)) if shape else index.model.n_features_in_ if index.model is not None
                     else index.dimension, np.float32)
    strips = [(f"{index.space} space", rows)]
    if args.beside:
        other = Index.load(args.beside)
        if other.info.get("data") != info.get("data") or other.info.get("split") != info.get("split"):
            raise AelabError(f"--beside {args.beside} indexes another collection; build both from the same --data")
        if first is None:
            raise AelabError("--beside needs the query's pixels: give an image file or an item of the collection")
        found = other.query(other.encode(first[None, :]), len(rows))
        strips.append((f"{other.space} space", [
            {"rank": r + 1, "id": found.ids[0][r], "label": None if found.labels is None else found.labels[0][r],
             "path": other.paths[found.positions[0][r]]} for r in range(found.positions.shape[1])]))
    images, titles = [], []
    for name, strip in strips:
        images += [first] + [pixels(r["id"], r["path"]) for r in strip]
        titles += [f"query ({name})"] + [f"{r['rank']}: {r['label']}" if r["label"] is not None else str(r["rank"])
                                         for r in strip]
    images = np.stack([blank if im is None else im for im in images])
    fig = plots.image_strip(images, shape, titles, title=f"nearest items, {index.metric}", per_row=len(rows) + 1)
    plots.save_figure(fig, args.figure, args.overwrite)


def cmd_evaluate_retrieval(args) -> None:
    import numpy as np

    from . import plots, retrieval
    from .search import Index
    from .storage import atomic_path, check_output, fresh_path, save_json

    out = check_output(args.out, args.overwrite) if args.out else fresh_path(str(Path(args.index[0])) + "-retrieval")
    args.data = args.queries
    ds = _load_data(args)
    queries = ds.split(args.split)
    if queries.y is None:
        raise AelabError(f"--queries {args.queries} has no labels; retrieval is evaluated with labels as relevance")
    n = len(queries.X) if args.n_queries is None else max(1, min(args.n_queries, len(queries.X)))
    X, y = queries.X[:n], queries.y[:n]
    results, curves = {}, {}
    for path in args.index:
        index = Index.load(path)
        if index.labels is None:
            raise AelabError(f"{path} has no labels; build it from labelled data to evaluate retrieval")
        if index.model is not None:
            index.model.check_n_features(ds.n_features, f"--queries {args.queries}")
        elif ds.n_features != index.dimension:
            raise AelabError(f"--queries {args.queries} has {ds.n_features} features per sample but {path} holds "
                             f"{index.dimension}-D vectors")
        same = index.info.get("data") == args.queries and index.info.get("split") == args.split
        exclude = np.arange(n) if same else None  # a query is not its own neighbour
        name = f"{Path(path).name} ({index.space})"
        results[name] = retrieval.evaluate(index, index.encode(X), y, exclude=exclude)
        curves[name] = (results[name]["pr_curve"]["recall"], results[name]["pr_curve"]["precision"])
    table = _retrieval_table(results)
    print(f"queries: {n} {args.split} samples of {ds.name}; relevant = same label\n\n{table}")
    with atomic_path(out, args.overwrite) as tmp:
        tmp.mkdir()
        save_json(tmp / "metrics.json", {"queries": args.queries, "split": args.split, "n_queries": n,
                                         "indexes": results})
        fig = plots.precision_recall_figure(curves, title=f"{ds.name}: {n} queries")
        plots.save_figure(fig, tmp / "precision-recall.png")
    print(f"metrics.json and precision-recall.png in {out}")


def _retrieval_table(results: dict) -> str:
    from .report import text_table

    head = ["index (space)", "dim", "P@1", "P@10", "P@100", "mAP", "queries/s", "median ms", "p95 ms", "MB"]
    rows = [head]
    for name, r in results.items():
        p = r["precision_at"]
        rows.append([name, str(r["dimension"]), *(f"{p[k]:.4f}" if k in p else "-" for k in (1, 10, 100)),
                     f"{r['map']:.4f}", f"{r['queries_per_s']:.0f}", f"{r['latency_ms']['median']:.3f}",
                     f"{r['latency_ms']['p95']:.3f}", f"{r['memory_mb']:.2f}"])
    return text_table(rows)


def cmd_classify(args) -> None:
    from . import plots
    from .storage import check_output

    out = check_output(args.out, args.overwrite)
    ds = _load_data(args)
    if ds.train.y is None or ds.test.y is None:
        raise AelabError(f"--data {args.data} has no labels; classify needs labelled training and test samples")
    X, y, unlabelled = ds.train.X, ds.train.y, None
    if args.n_labels is not None:
        X, y, unlabelled = _keep_labels(X, y, args.n_labels, args.seed)
    print(f"data: {ds!r}; {len(X)} labelled training samples"
          + (f", {len(unlabelled)} unlabelled" if unlabelled is not None else ""), flush=True)
    model = Classifier(hidden_layer_sizes=args.hidden, activation=args.activation, normalization=args.normalization,
                       init=args.init, pretrain=args.pretrain, pretrain_epochs=args.pretrain_epochs,
                       pretrain_denoise=args.pretrain_denoise,
                       **_training_kwargs(args))
    checkpoint = checkpoint_path(out)
    model.fit(X, y, X_unlabelled=unlabelled if args.pretrain else None, checkpoint_dir=checkpoint,
              resume=args.resume)
    model.save(out, overwrite=args.overwrite)
    shutil.rmtree(checkpoint, ignore_errors=True)
    predicted = model.predict(ds.test.X)
    accuracy = float((predicted == ds.test.y).mean())
    start = f"the encoder of {args.init}" if args.init else "greedy pre-training" if args.pretrain else "random weights"
    fig = plots.confusion_matrix_figure(ds.test.y, predicted, ds.classes,
                                        title=f"{ds.name}: test accuracy {accuracy:.4f} ({start})")
    plots.save_figure(fig, out / "confusion-matrix.png", overwrite=True)
    print(f"trained {model.n_epochs_} epochs in {model.training_seconds_:.0f} s, hidden layers from {start}")
    print(f"test accuracy: {accuracy:.4f} (error {100 * (1 - accuracy):.2f}%) on {len(predicted)} samples")
    print(f"model and confusion-matrix.png saved in {out}")


def _keep_labels(X, y, n_labels: int, seed: int):
    """``n_labels`` labelled samples, stratified by class, and the other inputs without labels."""
    from sklearn.model_selection import train_test_split

    if not 0 < n_labels < len(X):
        raise AelabError(f"--n-labels must be between 1 and {len(X) - 1}, not {n_labels}")
    try:
        keep, rest = train_test_split(range(len(X)), train_size=n_labels, stratify=y, random_state=seed)
    except ValueError:  # fewer labels than classes: a plain random draw
        keep, rest = train_test_split(range(len(X)), train_size=n_labels, random_state=seed)
    return X[keep], y[keep], X[rest]


def cmd_evaluate(args) -> None:
    from . import report
    from .storage import atomic_path, check_output, fresh_path, save_json

    out = check_output(args.out, args.overwrite) if args.out else fresh_path(str(Path(args.model)) + "-evaluation")
    model, ds = _model_and_data(args)
    name = Path(args.model).name
    models = {name: model}
    if type(model).__name__ != "PCA":
        models[f"pca-{model.code_size}"] = report.pca_twin(model, ds)
    metrics = {n: report.model_metrics(m, ds) for n, m in models.items()}
    table = report.comparison_table(metrics)
    print(f"data: {ds!r}\n\n{table}\n")
    with atomic_path(out, args.overwrite) as tmp:
        tmp.mkdir()
        figures = report.write_figures(tmp, models, ds)
        save_json(tmp / "metrics.json", {"data": ds.name, "models": metrics})
        sentences = report.account(metrics, [(name, f"pca-{model.code_size}")]) if len(models) > 1 else []
        report.write_html(tmp / "report.html", f"aelab evaluate: {name} on {ds.name}", sentences, table, figures)
    for s in sentences:
        print(s)
    print(f"figures and report in {out}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except AelabError as exc:
        print(f"aelab: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("aelab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"aelab: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
