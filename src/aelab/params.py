"""What can be set, declared once: the shared training and regularization parameters, and the
allowed values of every choice.

Each :class:`Param` is one row: the estimator argument, its default, a one-line help, the CLI
flag and how the CLI reads it, and the values it takes. From this table come the estimators'
parameter docs (:func:`parameters_doc`), the CLI options (``aelab.cli.common.add_params``), the
checks of a fit (:func:`check_params`) and the objective's configuration (the ``REGULARIZATION``
names). scikit-learn needs explicit ``__init__`` signatures; a test holds them to this table.

Adding a regularizer term: a row here, and its term in :mod:`aelab.objectives`.

This module imports nothing heavy, so that ``aelab --help`` answers at once.
"""

from __future__ import annotations

import argparse
import math
import numbers
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ParameterError

# --- allowed values ---------------------------------------------------------------------------------
#: Hidden activations by name, each the name of its ``torch.nn`` class.
ACTIVATIONS = {
    "relu": "ReLU",
    "gelu": "GELU",
    "elu": "ELU",
    "silu": "SiLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "leaky_relu": "LeakyReLU",
}
#: Normalization after a hidden layer, each the name of its ``torch.nn`` class (None: no layer).
NORMALIZATIONS = {"batch": "BatchNorm1d", "layer": "LayerNorm", "none": None}
CONV_NORMALIZATIONS = {"batch": "BatchNorm2d", "none": None}
LOSSES = ("mse", "bce", "multinomial")
OUTPUT_ACTIVATIONS = ("auto", "sigmoid", "linear", "softmax")
SCALINGS = ("auto", "none", "standard")
SCHEDULES = ("onecycle", "cosine", "constant")
PRECISIONS = ("float32", "bfloat16", "float16")
CORRUPTIONS = ("gaussian", "mask", "salt_pepper")
SPARSITIES = ("l1", "kl")
PRETRAINING = (None, "greedy")
UNPOOLING = ("max", "nearest")
UPSAMPLING = ("deconv", "conv")
MODEL_KINDS = ("autoencoder", "conv", "pca")
# search
METRICS = ("cosine", "ip", "l2", "hamming")
INDEX_KINDS = ("auto", "exact", "hnsw", "ivf", "ivfpq")
SPACES = ("code", "pca", "pixels", "pcah", "itq")
# generation
BOXES = ("auto", "zero")
DENSITIES = ("gaussian", "gmm", "prior")
# text
WEIGHTINGS = ("counts", "tf", "idf", "tfidf")
DOCUMENT_KINDS = ("autoencoder", "lsa")
DOCUMENT_LOSSES = ("auto", "multinomial", "mse")
STRIP_CHOICES = ("headers", "quotes", "signatures")
#: What a word is (a regular expression of scikit-learn's vectorizers): two or more letters; the
#: second, scikit-learn's own (two or more word characters), is what older document models saved.
WORDS = r"(?u)\b[^\W\d_]{2,}\b"
TOKEN_PATTERNS = (WORDS, r"(?u)\b\w\w+\b")


# --- what "auto" chooses: a training run of enough optimizer steps, whatever the data's size -----------
AUTO_MAX_BATCH = 256  # the recipe's batch (MNIST: 54,000 training images, 210 steps an epoch)
AUTO_MIN_BATCH = 16
AUTO_STEPS_PER_EPOCH = 32  # a smaller collection gets smaller batches (a power of two) ...
AUTO_EPOCHS = 100  # ... and the recipe's epochs,
AUTO_STEPS = 5_000  # or more, until training takes this many steps
AUTO_MAX_EPOCHS = 1_000
AUTO_PATIENCE = 20
#: What ``keep_distances="auto"`` meant while it was on by default: 30 for a real-valued code (chosen
#: on MNIST, the 8x8 digits and a 2,000-image MNIST sample); models saved then still say so.
AUTO_KEEP_DISTANCES = 30.0
#: The ``keep_neighbours`` weight of a real-valued code, per input feature (the reconstruction loss
#: is summed over the features, so this keeps the balance whatever their number: 314 on MNIST's
#: 784 pixels, 26 on the 8x8 digits), chosen on a 20,000-image MNIST split and the 8x8 digits
#: (benchmarks/retrieval_mnist.py; docs/benchmarks/retrieval.md has the trials).
AUTO_KEEP_NEIGHBOURS = 0.4
#: The neighbours of each sample in the graph that ``keep_neighbours`` keeps (UMAP's default).
N_NEIGHBOURS = 15
#: The standard deviation of the noise added before a binary code's sigmoid in training. Noise
#: that large (Salakhutdinov & Hinton's semantic hashing) makes the decoder useless unless the
#: logits are far from 0, so the sigmoid's outputs end near 0 and 1 and lose little when
#: thresholded. It ranked better than a straight-through sign (docs/benchmarks/hashing.md).
BINARY_NOISE = 4.0
#: The noise of ``binary_noise="auto"`` when the neighbour-keeping term shapes the bits: with the
#: term holding neighbours together, less noise keeps more of what the bits rank by (MNIST's and
#: 20 Newsgroups' bits at every length; docs/benchmarks/hashing.md).
NEIGHBOUR_BINARY_NOISE = 2.0
#: A document model's noise with the term: less again, since 20 Newsgroups' bits ranked higher at 1
#: than at 2 at every length, where MNIST's whole ranking (mAP) was a little lower at 1.
DOCUMENT_NEIGHBOUR_BINARY_NOISE = 1.0
#: What the neighbour-keeping term of a binary code compares: its logits (whose signs are the
#: bits), or its bits' probabilities (the sigmoids of the logits), which count only whether
#: neighbours agree on the bits, however large the logits grow. Images' bits ranked better by
#: their logits (MNIST, 16 bits, Ryali et al.'s protocol: mAP 0.771 against 0.759), documents' by
#: their probabilities (20 Newsgroups, 16 bits: P@100 0.464 against 0.427; docs/benchmarks/hashing.md).
BINARY_NEIGHBOURS = ("logits", "probabilities")
#: Bits' probabilities are compared as if the code had this many bits: the squared distance is
#: scaled by ``BIT_DISTANCE_BITS / bits``, so that UMAP's curve of similarity, made for distances of a
#: few units, sees the share of bits two codes differ in, whatever their length (20 Newsgroups, 128
#: bits: unscaled, 86 of the bits ended 1 on under 30% or over 70% of the documents, and P@100 was
#: 0.475 against 0.506 scaled; at 16 bits, compared as 8 or 32 bits ranked below 16).
BIT_DISTANCE_BITS = 16
#: The input corruption of ``denoise="auto"`` for a binary code without the neighbour-keeping term
#: (with it, clean inputs ranked better: 0.714 against 0.633). Bits trained on clean inputs learn
#: fine detail as training goes on and rank a whole collection worse than ITQ's rotated PCA (MNIST
#: and the 8x8 digits); bits that must be recovered from 70% masked inputs keep the coarse layout
#: (docs/benchmarks/hashing.md).
AUTO_BINARY_DENOISE = "mask:0.7"
#: The "auto" training of a binary code: 2,500 steps, however few epochs that is (no floor of 100
#: epochs). Trained longer, its bits go on learning fine detail and rank a whole collection worse
#: (docs/benchmarks/hashing.md).
AUTO_BINARY_STEPS = 2_500
#: ``hidden_layer_sizes="auto"`` of the MLP auto-encoder, by the number of training samples: the
#: recipe's 1000-500-250 (chosen on 54,000 MNIST images) over-fits small collections, where two
#: narrower layers reconstruct better (benchmarks/small_data.py; docs/benchmarks/recipe.md has the figures).
AUTO_HIDDEN = ((500, (256, 128)), (10_000, (512, 256)), (None, (1000, 500, 250)))


def auto_hidden_sizes(n_train: int) -> tuple[int, ...]:
    """The hidden layers of ``hidden_layer_sizes="auto"`` for ``n_train`` training samples."""
    return next(sizes for below, sizes in AUTO_HIDDEN if below is None or n_train < below)


#: The document auto-encoder's own "auto": its recipe (batches of 128, 40 epochs, chosen on 20
#: Newsgroups' 11,314 posts) where that gives an epoch 32 steps and training 3,000; smaller batches
#: and more epochs below (1,000 short texts: P@10 0.063 at 280 steps, 0.074 at 3,038; docs/benchmarks/text.md).
DOCUMENT_BATCH, DOCUMENT_EPOCHS, DOCUMENT_STEPS = 128, 40, 3_000


def auto_document_training(n_documents: int) -> tuple[int, int]:
    """The ``(batch_size, epochs)`` of a document auto-encoder's "auto" for ``n_documents``."""
    batch = DOCUMENT_BATCH if n_documents / DOCUMENT_BATCH >= AUTO_STEPS_PER_EPOCH else auto_batch_size(n_documents)
    steps = max(1, n_documents // min(batch, n_documents))
    return batch, int(min(AUTO_MAX_EPOCHS, max(DOCUMENT_EPOCHS, math.ceil(DOCUMENT_STEPS / steps))))


def auto_patience(epochs: int) -> int:
    """The patience of ``patience="auto"``: 20 epochs, or a fifth of the epochs when there are more than 100."""
    return max(AUTO_PATIENCE, int(epochs) // 5)


def auto_batch_size(n_train: int) -> int:
    """The batch of ``batch_size="auto"``: the largest power of two up to 256 that gives an epoch of
    ``n_train`` samples at least 32 steps, and never below 16 (nor above ``n_train``)."""
    batch = AUTO_MAX_BATCH
    while batch > AUTO_MIN_BATCH and n_train / batch < AUTO_STEPS_PER_EPOCH:
        batch //= 2
    return max(1, min(batch, n_train))


def auto_epochs(steps_per_epoch: int, effort: float = 1.0, at_least: int = AUTO_EPOCHS, steps: int = AUTO_STEPS) -> int:
    """The epochs of ``epochs="auto"``: ``at_least`` (the recipe's 100), or more, up to 1,000, until
    training takes ``steps`` (5,000). ``effort`` (at most 1) scales the epochs and the steps down for
    nets whose steps cost more than the recipe's (:func:`auto_conv_effort`)."""
    floor, steps = math.ceil(at_least * effort), steps * effort
    return int(min(AUTO_MAX_EPOCHS, max(floor, math.ceil(steps / max(1, steps_per_epoch)))))


#: A convolutional net's step costs in proportion to the image's pixels (5,000 steps of 64 images of
#: 112x92 took 816 s on 2 cores: docs/benchmarks/recipe.md), so on images of more pixels than this its "auto" training
#: shrinks in proportion, to keep small collections within minutes.
AUTO_CONV_PIXELS = 56 * 56


def auto_conv_effort(image_shape) -> float:
    """The ``effort`` of :func:`auto_epochs` for a convolutional net on images of ``image_shape``."""
    return min(1.0, AUTO_CONV_PIXELS / (int(image_shape[0]) * int(image_shape[1])))


# --- the table ----------------------------------------------------------------------------------------
def _number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _at_least(low: float) -> Callable[[Any], bool]:
    return lambda v: _number(v) and v >= low


def _positive(v) -> bool:
    return _number(v) and v > 0


def _integer_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low


def _auto_or(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v == "auto" or check(v)


def _auto_or_number(kind: type, what: str) -> Callable[[str], Any]:
    def read(text: str):
        if str(text).strip().lower() == "auto":
            return "auto"
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} or auto") from None

    read.__doc__ = f"A CLI value that is ``auto`` or {what}."
    return read


auto_or_int = _auto_or_number(int, "a whole number")
auto_or_float = _auto_or_number(float, "a number")


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _fraction(v) -> bool:
    return _at_least(0)(v) and v < 1


def _spec(v) -> bool:
    return v is None or isinstance(v, str)


def _seed(v) -> bool:
    return v is None or (_integer_at_least(0)(v) and v < 2**63)


@dataclass(frozen=True)
class Param:
    """One parameter: estimator argument ``name`` with ``default``; ``help`` for docs and the CLI;
    the CLI ``flag`` (None: ``--name-with-dashes``), its ``cli_default`` when it differs from the
    estimator's, and ``action`` ("store_true", or "store_false" for a flag that switches it off);
    ``choices`` or ``valid`` (a predicate, with ``expect`` saying in words what it accepts)."""

    name: str
    default: Any
    help: str
    type: Callable | None = None
    choices: tuple | None = None
    valid: Callable[[Any], bool] | None = None
    expect: str = ""
    flag: str | None = None
    metavar: str | None = None
    action: str | None = None
    cli_default: Any = ...
    cli_help: str | None = None  # when the flag's sense differs from the argument's (--quiet for verbose)

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value) -> None:
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"{self.name} must be one of {', '.join(map(str, self.choices))}, not {value!r}")
        if self.valid is not None and not self.valid(value):
            raise ParameterError(f"{self.name} must be {self.expect}, not {value!r}")


OUTPUT = (
    Param(
        "output_activation",
        "auto",
        "sigmoid (data in [0, 1]), linear, softmax (word counts: the output is a "
        "distribution over features), or auto to choose from the data",
        choices=OUTPUT_ACTIVATIONS,
    ),
    Param(
        "loss",
        "auto",
        "reconstruction loss: bce (sigmoid output only), multinomial (cross-entropy against each "
        "row's distribution, softmax output only), mse, or auto (bce for sigmoid, multinomial for softmax, mse "
        "otherwise)",
        choices=("auto", *LOSSES),
    ),
    Param(
        "scaling",
        "auto",
        "input scaling: standard (zero mean, unit variance per feature), none, or auto (none "
        "for data in [0, 1], standard otherwise); reconstructions are in the input's units",
        choices=SCALINGS,
    ),
)

REGULARIZATION_PARAMS = (
    Param(
        "denoise",
        "auto",
        "denoising: corrupt the input with gaussian:SIGMA, mask:FRACTION or salt_pepper:FRACTION "
        f"noise and reconstruct the clean one; auto: {AUTO_BINARY_DENOISE} for binary codes without "
        "keep_neighbours (so that they rank a whole collection better), none for others",
        valid=_spec,
        expect="a noise spec such as gaussian:0.3, none or auto",
        metavar="KIND:LEVEL|auto",
    ),
    Param(
        "sparse",
        None,
        "sparse code: l1:WEIGHT or kl:WEIGHT[:RATE] (KL of each unit's sigmoid rate to RATE, 0.05)",
        valid=_spec,
        expect="a spec such as l1:1e-4",
        metavar="SPEC",
    ),
    Param(
        "contractive",
        0.0,
        "contractive: weight of the encoder Jacobian's squared Frobenius norm",
        type=float,
        valid=_at_least(0),
        expect="a number >= 0",
        metavar="WEIGHT",
    ),
    Param(
        "code_l2",
        0.0,
        "weight of the code's squared norm, which keeps codes near zero (for generation)",
        type=float,
        valid=_at_least(0),
        expect="a number >= 0",
        metavar="WEIGHT",
    ),
    Param(
        "keep_distances",
        0.0,
        "weight of a term that keeps each batch's pairwise distances (each over their mean) from the "
        "inputs in the codes, so that codes rank far items as the inputs do; auto: "
        f"{AUTO_KEEP_DISTANCES:g} for real-valued codes (the default before keep_neighbours), 0 for others",
        type=auto_or_float,
        valid=_auto_or(_at_least(0)),
        expect="a number >= 0 or auto",
        metavar="WEIGHT|auto",
    ),
    Param(
        "keep_neighbours",
        "auto",
        "weight of a term that keeps each sample's nearest neighbours near it in the codes and the other "
        "samples of its batch away (parametric UMAP's loss over the inputs' fuzzy k-nearest-neighbour graph), "
        f"so that codes find similar items as UMAP's embeddings do (for search and maps); auto: "
        f"{AUTO_KEEP_NEIGHBOURS:g} per input feature for real-valued and binary codes, 0 for variational ones",
        type=auto_or_float,
        valid=_auto_or(_at_least(0)),
        expect="a number >= 0 or auto",
        metavar="WEIGHT|auto",
    ),
    Param(
        "n_neighbours",
        "auto",
        f"neighbours of each sample in the graph that keep_neighbours keeps (fewer than the training samples); "
        f"auto: {N_NEIGHBOURS}, or one fewer than the training samples when there are not more",
        type=auto_or_int,
        valid=_auto_or(_integer_at_least(1)),
        expect="a whole number >= 1 or auto",
        metavar="K|auto",
    ),
    Param(
        "variational",
        False,
        "variational auto-encoder: Gaussian encoder, reparameterised code sample, KL term to N(0, I)",
        flag="--vae",
        action="store_true",
        valid=lambda v: isinstance(v, bool),
        expect="True or False",
    ),
    Param("beta", 1.0, "weight of the variational KL term", type=float, valid=_at_least(0), expect="a number >= 0"),
    Param(
        "beta_warmup",
        0,
        "raise beta linearly from 0 over this many epochs",
        type=int,
        valid=_integer_at_least(0),
        expect="a whole number of epochs >= 0",
        metavar="EPOCHS",
    ),
    Param(
        "binary",
        False,
        "binary code (semantic hashing): n_components bits, learnt to be thresholded; an index over them "
        "ranks by Hamming distance",
        type=int,
        metavar="BITS",
        cli_default=None,
        cli_help="binary codes of BITS bits (a multiple of 8; sets --n-components), searched by Hamming distance",
        valid=lambda v: isinstance(v, bool),
        expect="True or False",
    ),
    Param(
        "binary_noise",
        "auto",
        "standard deviation of the noise before a binary code's sigmoid in training: more noise, bits "
        f"that keep the coarser structure of the data (a better whole ranking, a worse top few); auto: "
        f"{NEIGHBOUR_BINARY_NOISE:g} with keep_neighbours, {BINARY_NOISE:g} without",
        type=auto_or_float,
        valid=_auto_or(_positive),
        expect="a number > 0 or auto",
        metavar="SD|auto",
    ),
    Param(
        "binary_neighbours",
        "logits",
        "what the neighbour-keeping term of a binary code compares: its logits, or its bits' "
        "probabilities (the sigmoids of the logits; what a document model's bits are trained with)",
        choices=BINARY_NEIGHBOURS,
    ),
)

OPTIMIZER = (
    Param(
        "decoder_weight_decay",
        None,
        "AdamW weight decay of the decoder alone (None: weight_decay)",
        type=float,
        valid=_optional(_at_least(0)),
        expect="a number >= 0 or None",
        metavar="WD",
    ),
)

TRAINING_PARAMS = (
    Param(
        "epochs",
        "auto",
        "passes over the training data; auto: 100, or more for small data, so that training takes at least "
        f"{AUTO_STEPS:,} optimizer steps (at most {AUTO_MAX_EPOCHS} epochs; the conv model: fewer on images "
        f"of more than {AUTO_CONV_PIXELS:,} pixels, in proportion; a binary code: {AUTO_BINARY_STEPS:,} steps, "
        "however few epochs)",
        type=auto_or_int,
        valid=_auto_or(_integer_at_least(1)),
        expect="a whole number >= 1 or auto",
        metavar="N|auto",
    ),
    Param(
        "batch_size",
        "auto",
        f"samples per optimizer step; auto: {AUTO_MAX_BATCH}, or less for small data, so that an epoch has at least "
        f"{AUTO_STEPS_PER_EPOCH} steps (at least {AUTO_MIN_BATCH} samples); batch normalisation needs 2 or more",
        type=auto_or_int,
        valid=_auto_or(_integer_at_least(2)),
        expect="a whole number >= 2 or auto",
        metavar="N|auto",
    ),
    Param(
        "learning_rate",
        3e-3,
        "peak learning rate (AdamW)",
        type=float,
        valid=_positive,
        expect="a number > 0",
        flag="--lr",
        metavar="LR",
    ),
    Param("lr_schedule", "onecycle", "learning-rate schedule", choices=SCHEDULES),
    Param(
        "weight_decay", 0.1, "AdamW weight decay", type=float, valid=_at_least(0), expect="a number >= 0", metavar="WD"
    ),
    Param(
        "validation_fraction",
        0.1,
        "share of the training data held out for validation loss and early stopping",
        type=float,
        valid=_fraction,
        expect="a number in [0, 1)",
        metavar="FRACTION",
    ),
    Param(
        "patience",
        "auto",
        "early-stopping patience: epochs without a better validation loss, counting only those at the best "
        f"epoch's learning rate or below (0 or None: never stop early); auto: {AUTO_PATIENCE}, or a fifth of the "
        "epochs when there are more than 100",
        type=auto_or_int,
        valid=_optional(_auto_or(_integer_at_least(0))),
        expect="a whole number >= 0, auto or None",
        metavar="EPOCHS|auto",
    ),
    Param(
        "precision",
        "float32",
        "float32; bfloat16 or float16 for mixed-precision training (autocast; float16 with a gradient scaler)",
        choices=PRECISIONS,
    ),
    Param(
        "compile",
        False,
        "train the network compiled by torch.compile (after a compile of some seconds; docs/scaling.md "
        "says when it pays); the weights agree with an uncompiled run to float rounding, not bit for bit",
        action="store_true",
        valid=lambda v: isinstance(v, bool),
        expect="True or False",
    ),
    Param(
        "cuda_graphs",
        False,
        "on a GPU, capture each training step's forward and backward pass once as a CUDA graph and replay it "
        "(one process; float32 or bfloat16; docs/scaling.md); elsewhere the same step runs uncaptured, "
        "with the usual weights",
        action="store_true",
        valid=lambda v: isinstance(v, bool),
        expect="True or False",
    ),
    Param(
        "random_state",
        None,
        "seed for initialisation, validation split, shuffling and noise (None: a fresh seed)",
        type=int,
        valid=_seed,
        expect="a whole number >= 0 or None",
        flag="--seed",
        cli_default=0,
        metavar="SEED",
    ),
    Param(
        "device",
        None,
        "cpu or cuda (None: cuda when available)",
        valid=lambda v: v is None or (isinstance(v, str) and re.fullmatch(r"cpu|mps|cuda(:\d+)?", v) is not None),
        expect="cpu, cuda, cuda:N or mps",
        metavar="DEVICE",
    ),
    Param(
        "verbose",
        False,
        "show a progress bar (only when writing to a terminal)",
        flag="--quiet",
        action="store_false",
        cli_default=True,
        cli_help="no progress bar",
        valid=lambda v: isinstance(v, bool),
        expect="True or False",
    ),
    Param(
        "log_dir",
        None,
        "write each epoch's losses, terms, learning rate and validation loss as TensorBoard scalars into this "
        "folder (needs pip install 'aelab[tensorboard]'; view with tensorboard --logdir DIR)",
        valid=lambda v: v is None or (isinstance(v, (str, os.PathLike)) and str(v).strip() != ""),
        expect="a folder path or None",
        metavar="DIR",
    ),
)


def _contamination(v) -> bool:
    return v == "auto" or (_number(v) and 0 < v <= 0.5)


#: Every code model takes this: the share of training samples taken as anomalies when it flags items
#: (``predict``), as scikit-learn's outlier detectors take it.
CONTAMINATION = Param(
    "contamination",
    "auto",
    "share of the training samples that predict() flags as anomalies, which sets the threshold offset_ (it can "
    "change after training: the model keeps its training scores' quantiles); auto: Tukey's fence, the samples "
    "scoring more than 1.5 interquartile ranges above the training scores' upper quartile",
    type=auto_or_float,
    valid=_contamination,
    expect="a share in (0, 0.5] or auto",
    metavar="SHARE|auto",
)
ANOMALY_KINDS = ("auto", "reconstruction", "blurred", "density", "elbo")

#: Every auto-encoder takes these, in this order, after its architecture's own arguments.
AUTOENCODER_PARAMS = (
    OUTPUT + REGULARIZATION_PARAMS[:4] + OPTIMIZER + REGULARIZATION_PARAMS[4:] + TRAINING_PARAMS + (CONTAMINATION,)
)
#: The arguments that configure the objective's terms (``aelab.objectives.Regularization``).
REGULARIZATION = tuple(p.name for p in REGULARIZATION_PARAMS)
TABLE = {p.name: p for p in AUTOENCODER_PARAMS}


#: The classifier trains with its own defaults for these (``aelab.Classifier``; the CLI's ``classify``).
CLASSIFIER_DEFAULTS = {"epochs": 50, "batch_size": 128, "learning_rate": 1e-3}
#: The document auto-encoder's recipe (``aelab.text.DocumentModel``; the CLI's ``text train``), chosen
#: on 20 Newsgroups (docs/benchmarks/text.md).
DOCUMENT_DEFAULTS = {
    "n_components": 10,
    "max_features": 2000,
    "loss": "auto",
    "hidden_layer_sizes": (1000, 500, 250),
    "denoise": "mask:0.4",
    "keep_neighbours": "auto",
    "n_neighbours": "auto",
    "epochs": "auto",
    "batch_size": "auto",
    "learning_rate": 1e-3,
}
#: The document auto-encoder's ``keep_neighbours="auto"``: its reconstruction loss is one
#: cross-entropy per document (not a sum over the words), so its weight is a number of its own,
#: chosen on 20 Newsgroups (10,000 words, 16 bits, 50 neighbours: P@100 0.386 at 2, 0.427 at 4,
#: 0.424 at 8; with the bits' probabilities 0.460 at 2, 0.464 at 4, 0.450 at 8; the 10-D codes of
#: 2,000 words rank as they did at 2 with 15 neighbours;
#: docs/benchmarks/hashing.md). With the term the encoder takes the image models' batch norm and
#: GELU: tanh layers without normalisation kept the codes in a small ball that the term could not
#: spread (16-D codes ranked worse with the term than without).
DOCUMENT_KEEP_NEIGHBOURS = 4.0
#: The document auto-encoder's ``n_neighbours="auto"``: more than an image's, since a document's few
#: nearest by its words are often from other topics, and a wider circle of them tells its topic
#: better (20 Newsgroups, 10,000 words, weight 2, 16 bits: P@100 0.353 at 15, 0.386 at 50, 0.377 at
#: 150; 16-D codes by cosine 0.417 at 15, 0.509 at 50; docs/benchmarks/hashing.md).
DOCUMENT_N_NEIGHBOURS = 50
#: What the neighbour-keeping term of a document model's bits compares (:data:`BINARY_NEIGHBOURS`).
DOCUMENT_BINARY_NEIGHBOURS = "probabilities"


def auto_document_neighbours(n_components: int) -> float:
    """The document auto-encoder's ``keep_neighbours="auto"`` for codes of ``n_components``: the term
    for search codes and bits, none for 2-D maps (on 20 Newsgroups the share of each test
    document's 10 nearest on the map from its newsgroup fell with the term at every weight tried)."""
    return DOCUMENT_KEEP_NEIGHBOURS if n_components > 2 else 0.0


def auto_n_neighbours(n_train: int, most: int = N_NEIGHBOURS) -> int:
    """``n_neighbours="auto"`` for ``n_train`` training samples: ``most`` (an image model's
    :data:`N_NEIGHBOURS`, a document model's :data:`DOCUMENT_N_NEIGHBOURS`), or every other sample
    when there are not more."""
    return min(most, n_train - 1)


def _sizes(v) -> bool:
    return isinstance(v, (tuple, list)) and len(v) > 0 and all(_integer_at_least(1)(s) for s in v)


def _odd(v) -> bool:
    return _integer_at_least(1)(v) and v % 2 == 1


#: The shape of a net, declared once for every estimator that takes it (each checks the ones it has).
ARCHITECTURE = {
    p.name: p
    for p in (
        Param("n_components", 30, "code size", valid=_integer_at_least(1), expect="a whole number >= 1"),
        Param(
            "hidden_layer_sizes",
            "auto",
            "hidden widths",
            valid=_auto_or(_sizes),
            expect="a list of whole numbers >= 1, such as (1000, 500, 250), or auto",
        ),
        Param(
            "channels",
            (16, 8, 8),
            "channels of each convolution stage",
            valid=_sizes,
            expect="a list of whole numbers >= 1, such as (16, 8, 8)",
        ),
        Param("kernel_size", 3, "convolution kernel size", valid=_odd, expect="an odd whole number (3, 5, ...)"),
        Param("pool_size", 2, "max-pooling block size", valid=_integer_at_least(1), expect="a whole number >= 1"),
        Param(
            "pretrain_epochs",
            10,
            "epochs of each pre-trained layer",
            valid=_integer_at_least(1),
            expect="a whole number >= 1",
        ),
        Param(
            "log_input",
            False,
            "log(1 + x) into the encoder; 'unit': each row of it scaled to unit length (word counts seen by "
            "their words, not their length)",
            valid=lambda v: isinstance(v, bool) or v == "unit",
            expect="True, False or 'unit'",
        ),
        Param(
            "max_features", 2000, "words of the vocabulary", valid=_integer_at_least(1), expect="a whole number >= 1"
        ),
    )
}

#: Binary codes are stored by FAISS a byte at a time, so their bits come 8 at a time.
BITS_PER_BYTE = 8


def check_bits(bits, name: str = "n_components") -> int:
    """The bits of a binary code, or a one-line ParameterError (``name``: the argument or option)."""
    if not _integer_at_least(BITS_PER_BYTE)(bits) or bits % BITS_PER_BYTE:
        raise ParameterError(
            f"{name} of a binary code must be a multiple of {BITS_PER_BYTE} bits (8, 16, 32...), as an index stores "
            f"them a byte at a time; not {bits!r}"
        )
    return int(bits)


def check_params(values: dict[str, Any]) -> None:
    """Raise a one-line ParameterError for the first value of a declared parameter (the training
    table, the architecture) that it does not take."""
    for name, value in values.items():
        if name in TABLE:
            TABLE[name].check(value)
        elif name in ARCHITECTURE:
            ARCHITECTURE[name].check(value)


def parameters_doc(params=AUTOENCODER_PARAMS, indent: str = "    ") -> str:
    """numpydoc lines ``name : help`` for an estimator's docstring."""
    import textwrap

    lines = []
    for p in params:
        default = "" if p.default is None or p.default is False else f" Default: {p.default!r}."
        text = f"{p.name} : {p.help[0].upper()}{p.help[1:]}.{default}"
        lines += textwrap.wrap(text, 100, initial_indent=indent, subsequent_indent=indent + "    ")
    return "\n".join(lines) + "\n"


#: Samples in each WebDataset shard that ``aelab pack`` writes.
SAMPLES_PER_SHARD = 10_000
