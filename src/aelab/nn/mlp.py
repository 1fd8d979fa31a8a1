"""The deep MLP auto-encoder net (Hinton & Salakhutdinov 2006) and the shallow one of greedy pre-training."""

from __future__ import annotations

import torch
from torch import nn

from ..params import BINARY_NOISE
from .layers import mlp


def binarize(logits: torch.Tensor, training: bool, noise: float = BINARY_NOISE) -> torch.Tensor:
    """The code a binary net decodes from its code layer's ``logits``: in training the sigmoid of
    the logits plus Gaussian noise of standard deviation ``noise``; otherwise the bits, 1 where a
    logit is positive."""
    if not training:
        return (logits > 0).to(logits.dtype)
    return torch.sigmoid(logits + noise * torch.randn_like(logits))


def code_to_decode(
    stats: torch.Tensor, training: bool, variational: bool, binary: bool, noise: float = BINARY_NOISE
) -> torch.Tensor:
    """What a net's decoder gets from its code layer's ``stats``."""
    if variational:
        return reparameterize(stats, training)
    return binarize(stats, training, noise) if binary else stats


def reparameterize(stats: torch.Tensor, sample: bool) -> torch.Tensor:
    """The code a variational net decodes from its ``stats`` (mean, then log-variance): a sample
    ``mean + noise * std`` while training, the mean otherwise."""
    mean, logvar = stats.chunk(2, dim=1)
    return mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if sample else mean


def log_features(x: torch.Tensor, log_input: bool | str) -> torch.Tensor:
    """log(1 + x), and with ``log_input="unit"`` each row scaled to unit length: the encoder then
    sees which words a document has and how much of it each makes, the same for a short query as
    for a long document on its topic."""
    x = torch.log1p(x)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12) if log_input == "unit" else x


class MLPAutoEncoderNet(nn.Module):
    """Encoder ``n_features - hidden - code`` and its mirror. A variational encoder's last layer
    gives twice the code size: the mean, then the log-variance."""

    def __init__(
        self,
        n_features: int,
        hidden: tuple[int, ...],
        n_components: int,
        activation: str,
        normalization: str,
        variational: bool = False,
        log_input: bool | str = False,
        binary: bool = False,
        binary_noise: float = BINARY_NOISE,
    ):
        super().__init__()
        self.log_input, self.variational, self.binary = log_input, variational, binary
        self.binary_noise = binary_noise
        self.encoder = mlp([n_features, *hidden, n_components * (2 if variational else 1)], activation, normalization)
        self.decoder = mlp([n_components, *reversed(hidden), n_features], activation, normalization)

    def encode(self, x: torch.Tensor):
        return self.encoder(log_features(x, self.log_input) if self.log_input else x), None

    def decode(self, z: torch.Tensor, aux=None) -> torch.Tensor:
        return self.decoder(z)

    def decoder_parameters(self):
        return self.decoder.parameters()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats, aux = self.encode(x)
        code = code_to_decode(stats, self.training, self.variational, self.binary, self.binary_noise)
        return stats, self.decode(code, aux)


class ShallowAutoEncoder(nn.Module):
    """One layer of greedy pre-training: an encoder ``block`` and a linear ``decoder`` back to its input."""

    def __init__(self, block: nn.Sequential, decoder: nn.Linear):
        super().__init__()
        self.block, self.decoder = block, decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.block(x))
