"""The deep MLP auto-encoder (Hinton & Salakhutdinov 2006), trained end to end with Adam.

Default recipe for deep MLPs, chosen on MNIST (see benchmarks/mnist_reconstruction.py):
batch-normalised GELU hidden layers, a linear code layer, a sigmoid output with binary
cross-entropy for data in [0, 1], AdamW (peak learning rate 3e-3, weight decay 0.1) under a
one-cycle schedule, batches of 256, 100 epochs. On MNIST 784-1000-500-250-30 this reaches a test
error of 2.42 per image in under 10 minutes on 2 CPU cores (PCA-30: 13.87; the paper: 3.00).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..errors import DataError
from .base import check_choices
from .neural import (
    COMMON_DEFAULTS,
    COMMON_PARAMETERS_DOC,
    LOSS_CHOICES,
    OUTPUT_ACTIVATIONS,
    SCALINGS,
    NeuralAutoEncoder,
)

__all__ = ["ACTIVATIONS", "AutoEncoder", "LOSS_CHOICES", "MLPAutoEncoderNet", "NORMALIZATIONS",
           "OUTPUT_ACTIVATIONS", "PRETRAINING", "SCALINGS", "mlp"]

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "elu": nn.ELU, "silu": nn.SiLU, "tanh": nn.Tanh,
               "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU}
NORMALIZATIONS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm, "none": None}
PRETRAINING = (None, "greedy")


def mlp(sizes, activation: str, normalization: str, last_plain: bool = True) -> nn.Sequential:
    """Linear layers of ``sizes``, each followed by norm + activation, except the last one when
    ``last_plain`` (a linear code or output layer)."""
    return nn.Sequential(*[m for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
                           for m in layer(n_in, n_out, activation,
                                          None if last_plain and i == len(sizes) - 2 else normalization)])


def layer(n_in: int, n_out: int, activation: str, normalization: str | None) -> list[nn.Module]:
    """One linear layer; with ``normalization`` (even "none") also its norm and activation."""
    if normalization is None:
        return [nn.Linear(n_in, n_out)]
    norm = NORMALIZATIONS[normalization]
    return [nn.Linear(n_in, n_out), *([norm(n_out)] if norm is not None else []), ACTIVATIONS[activation]()]


class MLPAutoEncoderNet(nn.Module):
    """Encoder ``n_features - hidden - code`` and its mirror. A variational encoder's last layer
    gives twice the code size: the mean, then the log-variance."""

    def __init__(self, n_features: int, hidden: tuple[int, ...], n_components: int, activation: str,
                 normalization: str, variational: bool = False, log_input: bool = False):
        super().__init__()
        self.log_input = log_input
        self.encoder = mlp([n_features, *hidden, n_components * (2 if variational else 1)], activation,
                           normalization)
        self.decoder = mlp([n_components, *reversed(hidden), n_features], activation, normalization)

    def encode(self, x: torch.Tensor):
        return self.encoder(torch.log1p(x) if self.log_input else x), None

    def decode(self, z: torch.Tensor, aux=None) -> torch.Tensor:
        return self.decoder(z)

    def decoder_parameters(self):
        return self.decoder.parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])


class AutoEncoder(NeuralAutoEncoder):
    __doc__ = f"""A deep MLP auto-encoder with a code of ``n_components`` units.

    Parameters
    ----------
    n_components : code size (a linear layer).
    hidden_layer_sizes : encoder widths between input and code; the decoder mirrors them.
    activation : hidden activation: relu, gelu, elu, silu, tanh, sigmoid or leaky_relu.
    normalization : "batch", "layer" or "none", after every hidden linear layer.
    pretrain : "greedy" for greedy layer-wise pre-training (Hinton & Salakhutdinov 2006) before
        fine-tuning the whole stack, or None to start from random weights.
    pretrain_epochs : epochs of each layer's shallow auto-encoder.
    pretrain_denoise : input noise of each pre-trained layer (a ``denoise`` spec such as "mask:0.5"),
        making the stack one of denoising auto-encoders.
    log_input : feed log(1 + x) to the encoder while reconstructing x itself. For word counts,
        whose few large values would otherwise swamp the rest; needs non-negative data, unscaled.
{COMMON_PARAMETERS_DOC}
    Examples
    --------
    >>> from aelab import AutoEncoder, datasets
    >>> ds = datasets.load("digits")
    >>> ae = AutoEncoder(n_components=2, hidden_layer_sizes=(64, 32), epochs=5, random_state=0)
    >>> ae.fit(ds.train.X).transform(ds.test.X).shape
    (360, 2)
    >>> sparse_denoising = AutoEncoder(denoise="gaussian:0.3", sparse="l1:1e-4")
    """

    def __init__(self, n_components=30, hidden_layer_sizes=(1000, 500, 250), activation="gelu",
                 normalization="batch", pretrain=None, pretrain_epochs=10, pretrain_denoise=None, log_input=False,
                 output_activation=COMMON_DEFAULTS["output_activation"], loss=COMMON_DEFAULTS["loss"],
                 scaling=COMMON_DEFAULTS["scaling"], denoise=None, sparse=None, contractive=0.0, code_l2=0.0,
                 decoder_weight_decay=None, variational=False, beta=1.0, beta_warmup=0,
                 epochs=COMMON_DEFAULTS["epochs"], batch_size=COMMON_DEFAULTS["batch_size"],
                 learning_rate=COMMON_DEFAULTS["learning_rate"], lr_schedule=COMMON_DEFAULTS["lr_schedule"],
                 weight_decay=COMMON_DEFAULTS["weight_decay"],
                 validation_fraction=COMMON_DEFAULTS["validation_fraction"], patience=COMMON_DEFAULTS["patience"],
                 precision=COMMON_DEFAULTS["precision"], random_state=None, device=None, verbose=False):
        self._init_params(locals())

    def _check_params(self):
        super()._check_params()
        if int(self.n_components) < 1:
            raise DataError(f"n_components must be at least 1, not {self.n_components}")
        if any(int(h) < 1 for h in self.hidden_layer_sizes):
            raise DataError(f"hidden layer sizes must be positive, not {tuple(self.hidden_layer_sizes)}")
        check_choices(("activation", self.activation, ACTIVATIONS), ("pretrain", self.pretrain, PRETRAINING),
                      ("normalization", self.normalization, NORMALIZATIONS))

    def _build(self, n_features: int) -> MLPAutoEncoderNet:
        return MLPAutoEncoderNet(n_features, tuple(int(h) for h in self.hidden_layer_sizes),
                                 int(self.n_components), self.activation, self.normalization, bool(self.variational),
                                 bool(self.log_input))

    def _choose_scaling(self, X):
        super()._choose_scaling(X)
        if self.log_input and (self.mean_ is not None or X.min() < 0):
            raise DataError("log_input=True needs non-negative data (such as word counts) with scaling='none'")

    def _pretrain(self, Xs, config) -> None:
        """Greedy layer-wise pre-training: each layer learns to reconstruct the layer below it,
        then the stack is unrolled into the encoder and decoder."""
        if self.pretrain != "greedy":
            return
        from ..pretrain import greedy_layerwise, load_stack
        from ..regularizers import Corruption

        sizes = [Xs.shape[1], *map(int, self.hidden_layer_sizes), int(self.n_components)]
        first_input = np.log1p(Xs) if self.log_input else Xs  # what the encoder's first layer sees
        stack = greedy_layerwise(first_input, sizes, self.activation, self.normalization, self._reconstruction, config,
                                 epochs=int(self.pretrain_epochs), code_layer=True,
                                 corruption=Corruption.parse(self.pretrain_denoise), progress=self.verbose)
        load_stack(self.module_.encoder, stack, self.module_.decoder)
        self.pretrain_history_ = [s.history for s in stack]
