"""The deep MLP auto-encoder (Hinton & Salakhutdinov 2006), trained end to end with AdamW.

Its defaults are the default recipe for deep MLPs, chosen on MNIST (see docs/models.md and
benchmarks/mnist_reconstruction.py): batch-normalised GELU hidden layers, a linear code layer, a
sigmoid output with binary cross-entropy for data in [0, 1], AdamW with weight decay under a
one-cycle schedule.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import DataError
from ..nn import MLPAutoEncoderNet, log_features
from ..objectives import Corruption
from ..params import ACTIVATIONS, ARCHITECTURE, NORMALIZATIONS, PRETRAINING, TABLE, auto_hidden_sizes
from ..training import greedy_layerwise, load_stack
from ..validation import check_choices
from .autoencoder import COMMON_PARAMETERS_DOC, NeuralAutoEncoder

__all__ = ["AutoEncoder"]


def check_layer_options(estimator) -> None:
    """The options of MLP layers and their greedy pre-training, which the auto-encoder and the
    classifier share: activation, normalization, pretrain, pretrain_epochs, pretrain_denoise."""
    ARCHITECTURE["pretrain_epochs"].check(estimator.pretrain_epochs)
    check_choices(
        ("activation", estimator.activation, ACTIVATIONS),
        ("pretrain", estimator.pretrain, PRETRAINING),
        ("normalization", estimator.normalization, NORMALIZATIONS),
    )
    TABLE["denoise"].check(estimator.pretrain_denoise)


class AutoEncoder(NeuralAutoEncoder):
    __doc__ = f"""A deep MLP auto-encoder with a code of ``n_components`` units.

    Parameters
    ----------
    n_components : code size (a linear layer).
    hidden_layer_sizes : encoder widths between input and code; the decoder mirrors them. "auto":
        256-128 for fewer than 500 training samples, 512-256 for fewer than 10,000, else 1000-500-250
        (``hidden_layer_sizes_`` holds what was used).
    activation : hidden activation: relu, gelu, elu, silu, tanh, sigmoid or leaky_relu.
    normalization : "batch", "layer" or "none", after every hidden linear layer.
    pretrain : "greedy" for greedy layer-wise pre-training (Hinton & Salakhutdinov 2006) before
        fine-tuning the whole stack, or None to start from random weights.
    pretrain_epochs : epochs of each layer's shallow auto-encoder.
    pretrain_denoise : input noise of each pre-trained layer (a ``denoise`` spec such as "mask:0.5"),
        making the stack one of denoising auto-encoders.
    log_input : feed log(1 + x) to the encoder while reconstructing x itself. For word counts,
        whose few large values would otherwise swamp the rest; needs non-negative data, unscaled.
        "unit" scales each row of log(1 + x) to unit length, so that a short document and a long
        one on the same topic look alike to the encoder.
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

    # the arguments from output_activation on are the table of aelab.params (a test holds them to it)
    def __init__(
        self,
        n_components=30,
        hidden_layer_sizes="auto",
        activation="gelu",
        normalization="batch",
        pretrain=None,
        pretrain_epochs=10,
        pretrain_denoise=None,
        log_input=False,
        output_activation="auto",
        loss="auto",
        scaling="auto",
        denoise="auto",
        sparse=None,
        contractive=0.0,
        code_l2=0.0,
        decoder_weight_decay=None,
        keep_distances=0.0,
        keep_neighbours="auto",
        n_neighbours="auto",
        variational=False,
        beta=1.0,
        beta_warmup=0,
        binary=False,
        binary_noise="auto",
        binary_neighbours="logits",
        epochs="auto",
        batch_size="auto",
        learning_rate=3e-3,
        lr_schedule="onecycle",
        weight_decay=0.1,
        validation_fraction=0.1,
        patience="auto",
        precision="float32",
        compile=False,
        cuda_graphs=False,
        random_state=None,
        device=None,
        verbose=False,
        log_dir=None,
        contamination="auto",
    ):
        self._init_params(locals())

    def _check_params(self):
        super()._check_params()  # the declared parameters: n_components, hidden_layer_sizes, pretrain_epochs...
        check_layer_options(self)

    _FITTED = NeuralAutoEncoder._FITTED + ("hidden_layer_sizes_",)

    def _choose_architecture(self, n_train: int) -> None:
        given = self.hidden_layer_sizes
        self.hidden_layer_sizes_ = list(auto_hidden_sizes(n_train) if given == "auto" else map(int, given))

    def _restore_state(self, fitted, tensors):
        if "hidden_layer_sizes_" not in fitted:  # saved before "auto" existed: the sizes were given
            fitted["hidden_layer_sizes_"] = [int(h) for h in self.hidden_layer_sizes]
        super()._restore_state(fitted, tensors)

    def _build(self, n_features: int) -> MLPAutoEncoderNet:
        return MLPAutoEncoderNet(
            n_features,
            tuple(self.hidden_layer_sizes_),
            int(self.n_components),
            self.activation,
            self.normalization,
            bool(self.variational),
            self.log_input,
            bool(self.binary),
            self._binary_noise(),
        )

    def _choose_scaling(self, X):
        super()._choose_scaling(X)
        if self.log_input and (self.mean_ is not None or X.min() < 0):
            raise DataError("log_input=True needs non-negative data (such as word counts) with scaling='none'")

    def _pretrain(self, Xs, config, stream: bool = False, prepare=None) -> None:
        """Greedy layer-wise pre-training: each layer learns to reconstruct the layer below it,
        then the stack is unrolled into the encoder and decoder."""
        if self.pretrain != "greedy":
            return
        sizes = [Xs.shape[1], *self.hidden_layer_sizes_, int(self.n_components)]
        first_input = Xs  # what the encoder's first layer sees (streamed: a batch at a time)
        if self.log_input and stream:
            scaled = prepare

            def prepare(rows):
                return log_features(torch.from_numpy(np.asarray(scaled(rows))), self.log_input).numpy()

        elif self.log_input:
            first_input = log_features(torch.from_numpy(np.asarray(Xs)), self.log_input).numpy()
        stack = greedy_layerwise(
            first_input,
            sizes,
            self.activation,
            self.normalization,
            self._reconstruction,
            config,
            epochs=int(self.pretrain_epochs),
            code_layer=True,
            corruption=Corruption.parse(self.pretrain_denoise),
            progress=self.verbose,
            stream=stream,
            prepare=prepare,
        )
        load_stack(self.module_.encoder, stack, self.module_.decoder)
        self.pretrain_history_ = [s.history for s in stack]
