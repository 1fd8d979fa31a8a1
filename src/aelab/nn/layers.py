"""Layer builders: linear layers with their normalization and activation, named as in :mod:`aelab.params`."""

from __future__ import annotations

from torch import nn

from ..params import ACTIVATIONS, NORMALIZATIONS


def activation(name: str, inplace: bool = False) -> nn.Module:
    """The activation ``name`` (a key of ``aelab.params.ACTIVATIONS``); ``inplace`` where it can."""
    cls = getattr(nn, ACTIVATIONS[name])
    return cls(inplace=True) if inplace and "inplace" in cls.__init__.__code__.co_varnames else cls()


def norm(table: dict, name: str, width: int) -> list[nn.Module]:
    """The normalization layer ``name`` of ``table`` for ``width`` units (none: an empty list)."""
    cls_name = table[name]
    return [getattr(nn, cls_name)(width)] if cls_name else []


def mlp(sizes, activation_name: str, normalization: str, last_plain: bool = True) -> nn.Sequential:
    """Linear layers of ``sizes``, each followed by norm + activation, except the last one when
    ``last_plain`` (a linear code or output layer)."""
    return nn.Sequential(
        *[
            m
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
            for m in layer(n_in, n_out, activation_name, None if last_plain and i == len(sizes) - 2 else normalization)
        ]
    )


def layer(n_in: int, n_out: int, activation_name: str, normalization: str | None) -> list[nn.Module]:
    """One linear layer; with ``normalization`` (even "none") also its norm and activation."""
    if normalization is None:
        return [nn.Linear(n_in, n_out)]
    return [nn.Linear(n_in, n_out), *norm(NORMALIZATIONS, normalization, n_out), activation(activation_name)]
