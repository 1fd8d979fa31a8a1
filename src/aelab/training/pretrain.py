"""Greedy layer-wise pre-training (Hinton & Salakhutdinov 2006; Bengio et al. 2007).

Train a shallow auto-encoder ``n_0 - n_1 - n_0`` on the data and keep its encoder layer; encode
the data with it (that layer is now fixed) and train ``n_1 - n_2 - n_1`` on those codes; and so on
up the stack. The kept layers then initialise a deep network (an auto-encoder, whose decoder
takes the shallow decoders' weights in mirror order, or a classifier with a new top layer) that
is fine-tuned as a whole by back-propagation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from ..nn import ShallowAutoEncoder, layer
from ..objectives import reconstruction_loss
from .loop import TrainConfig, apply_in_batches, fit_module


@dataclass
class Stage:
    """One pre-trained layer: its encoder block (linear, norm, activation), the shallow decoder
    that reconstructed its input, and the training history."""

    block: nn.Sequential
    decoder: nn.Linear
    history: list


def greedy_layerwise(
    X: np.ndarray,
    sizes: list[int],
    activation: str,
    normalization: str,
    first_loss,
    config: TrainConfig,
    epochs: int,
    code_layer: bool,
    corruption=None,
    progress: bool = False,
    stream: bool = False,
    prepare=None,
) -> list[Stage]:
    """Pre-train the layers ``sizes[0] -> sizes[1] -> ...`` one at a time on ``X``.

    ``first_loss(logits, target)`` is the first layer's reconstruction loss (the data's own);
    higher layers reconstruct the activations below them with squared error. With ``code_layer``
    the top layer is linear, as an auto-encoder's code layer is. With ``corruption`` (a
    :class:`aelab.objectives.Corruption`) every layer is a denoising auto-encoder: it sees its
    input corrupted and reconstructs it clean (stacked denoising auto-encoders, Vincent et al. 2008).

    With ``stream`` (data larger than memory, see :func:`fit_module`), no layer's inputs are ever
    stored: each batch's rows are read and ``prepare``-d, then passed through the fixed layers
    below, on the training device. They are the inputs stored in memory would hold, to float
    rounding (a matrix product may round a row otherwise within another batch).
    """
    stages: list[Stage] = []
    H = X if stream else np.ascontiguousarray(X, dtype=np.float32)
    streamed = {"stream": True, "prepare": prepare} if stream else {}
    layer_config = replace(config, epochs=int(epochs), validation_fraction=0.0, patience=None)
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        top_linear = code_layer and i == len(sizes) - 2
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed + 100 + i)
            net = ShallowAutoEncoder(
                nn.Sequential(*layer(n_in, n_out, activation, None if top_linear else normalization)),
                nn.Linear(n_out, n_in),
            )
        loss = first_loss if i == 0 else _squared_error
        below = nn.Sequential(*(s.block for s in stages)) if stream else nn.Sequential()

        def batch_loss(module, batch, epoch, loss=loss, below=below):
            x = batch[0]
            if len(below):
                with torch.no_grad():
                    x = below(x)
            return loss(module(corruption(x) if corruption else x), x), {}

        result = fit_module(
            net, H, batch_loss, replace(layer_config, seed=config.seed + 100 + i), progress=progress, **streamed
        )
        net.eval()  # fixed from now on; the next layer's inputs are computed where this layer trained
        if not stream:
            H = apply_in_batches(net.block, H, device=next(net.parameters()).device)
        stages.append(Stage(net.block, net.decoder, result.history))
    return stages


def load_stack(encoder: nn.Sequential, stages: list[Stage], decoder: nn.Sequential | None = None) -> int:
    """Copy pre-trained layers into the first modules of ``encoder`` (and the shallow decoders, in
    mirror order, into the linear layers of ``decoder``). A layer whose shape differs (a
    variational code layer, a classifier's top) keeps its random initialisation.

    Returns the number of encoder modules that received weights.
    """
    copied = 0
    targets = list(encoder)
    for source, target in zip([m for s in stages for m in s.block], targets):
        if _same_shapes(source, target):
            target.load_state_dict(source.state_dict())
            copied += 1
    if decoder is not None:
        linears = [m for m in decoder if isinstance(m, nn.Linear)]
        for source, target in zip(reversed([s.decoder for s in stages]), linears):
            if _same_shapes(source, target):
                target.load_state_dict(source.state_dict())
    return copied


def _same_shapes(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return type(a) is type(b) and sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)


def _squared_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return reconstruction_loss("mse", output, target, "linear")
