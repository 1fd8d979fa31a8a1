"""Reconstruction losses: per sample, summed over features, averaged over the batch.

Summing over features keeps a loss on the scale of the reported reconstruction error (squared
error per image), so the weights of penalty terms mean the same thing whatever the input size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("mse", "bce", "multinomial")


def reconstruction_loss(name: str, logits: torch.Tensor, target: torch.Tensor, output_activation: str) -> torch.Tensor:
    """Loss of the decoder's pre-activation output ``logits`` against ``target``.

    ``bce`` (binary cross-entropy) needs a sigmoid output and targets in [0, 1]; it is computed from
    the logits for numerical stability. ``mse`` is the squared error of the activated output.
    ``multinomial`` (for word counts) is the cross-entropy of a softmax output against each row's
    own distribution, the row divided by its sum (an all-zero row costs nothing).
    """
    if name == "bce":
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1).mean()
    if name == "multinomial":
        target = target / target.sum(1, keepdim=True).clamp_min(1e-12)
        return -(target * F.log_softmax(logits.float(), 1)).sum(1).mean()
    if name == "mse":
        return (apply_output(logits, output_activation) - target).square().sum(1).mean()
    raise ValueError(f"unknown loss {name!r}; choose one of {LOSSES}")


def apply_output(logits: torch.Tensor, output_activation: str) -> torch.Tensor:
    if output_activation == "softmax":
        return torch.softmax(logits, 1)
    return torch.sigmoid(logits) if output_activation == "sigmoid" else logits
