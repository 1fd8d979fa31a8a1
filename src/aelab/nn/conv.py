"""The convolutional auto-encoder net: convolution and pooling down, unpooling and deconvolution up.

Each encoder stage is a convolution (``same`` padding) and an activation, then max pooling (a
partial block at the edge is pooled too, so any image size works). The decoder mirrors it: each
pooling is undone by unpooling to the size it came from, each convolution by a transposed
convolution ("deconvolution") or a plain convolution. Unpooling comes in the two kinds of the
lecture: ``max`` puts each value back where the maximum came from (the encoder's switches) and
zeros elsewhere; ``nearest`` copies it to the whole block, as Keras's UpSampling2D does.

Decoding codes that no input produced has no switches; ``max`` unpooling then puts each value in
the top-left corner of its block.

Images are held channels-last (rows of H x W x C), which is also the fastest memory layout for
these small convolutions on a CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..params import BINARY_NOISE, CONV_NORMALIZATIONS
from .layers import activation, norm
from .mlp import code_to_decode


def _stage(conv: nn.Module, channels: int, activation_name: str, normalization: str) -> nn.Sequential:
    # in-place activations overwrite their input: no extra buffer for these large feature maps
    return nn.Sequential(
        conv, *norm(CONV_NORMALIZATIONS, normalization, channels), activation(activation_name, inplace=True)
    )


class ConvAutoEncoderNet(nn.Module):
    """Convolution + pooling stages of ``channels``, an optional dense code of ``n_components``,
    and the mirrored decoder."""

    def __init__(
        self,
        image_shape: tuple[int, ...],
        channels: tuple[int, ...],
        kernel_size: int,
        pool_size: int,
        unpooling: str,
        upsampling: str,
        n_components: int | None,
        activation_name: str,
        normalization: str,
        variational: bool = False,
        binary: bool = False,
        binary_noise: float = BINARY_NOISE,
    ):
        super().__init__()
        self.binary, self.binary_noise = binary, binary_noise
        height, width = image_shape[:2]
        self.in_channels = image_shape[2] if len(image_shape) == 3 else 1
        self.image_size = (height, width)
        self.pool, self.unpooling, self.variational = pool_size, unpooling, variational
        pad = kernel_size // 2
        widths = [self.in_channels, *channels]
        self.stages = nn.ModuleList(
            _stage(nn.Conv2d(c_in, c_out, kernel_size, padding=pad), c_out, activation_name, normalization)
            for c_in, c_out in zip(widths[:-1], widths[1:])
        )
        self.sizes = []  # feature-map size before each pooling
        h, w = height, width
        for _ in channels:
            self.sizes.append((h, w))
            h, w = math.ceil(h / pool_size), math.ceil(w / pool_size)
        self.top = (channels[-1], h, w)
        flat = channels[-1] * h * w
        if n_components:
            self.to_code = nn.Linear(flat, n_components * (2 if variational else 1))
            self.from_code = nn.Sequential(nn.Linear(n_components, flat), activation(activation_name))
        else:
            self.to_code = self.from_code = None
        layer = nn.ConvTranspose2d if upsampling == "deconv" else nn.Conv2d
        ups = []
        for i in reversed(range(len(channels))):
            c_in, c_out = widths[i + 1], widths[i]
            conv = layer(c_in, c_out, kernel_size, padding=pad)
            ups.append(conv if i == 0 else _stage(conv, c_out, activation_name, normalization))
        self.ups = nn.ModuleList(ups)
        self.to(memory_format=torch.channels_last)

    def encode(self, x: torch.Tensor):
        n = x.shape[0]  # not len(x): an int that ONNX export would fix the batch size to
        x = x.reshape(n, *self.image_size, self.in_channels).permute(0, 3, 1, 2)  # NCHW view, channels-last
        switches = []
        for stage in self.stages:
            x = stage(x)
            if self.unpooling == "max":
                x, idx = F.max_pool2d(x, self.pool, ceil_mode=True, return_indices=True)
                switches.append(idx)
            else:
                x = F.max_pool2d(x, self.pool, ceil_mode=True)
        code = x.reshape(n, -1)
        if self.to_code is not None:
            code = self.to_code(code)
        return code, (switches or None)

    def decode(self, z: torch.Tensor, aux=None) -> torch.Tensor:
        n = z.shape[0]
        x = self.from_code(z) if self.from_code is not None else z
        x = x.reshape(n, *self.top).contiguous(memory_format=torch.channels_last)
        for j, up in enumerate(self.ups):
            size = self.sizes[-1 - j]
            x = self._unpool(x, size, aux[-1 - j] if aux is not None else None)
            x = up(x)
        return x.permute(0, 2, 3, 1).reshape(n, -1)

    def _unpool(self, x: torch.Tensor, size: tuple[int, int], switches: torch.Tensor | None) -> torch.Tensor:
        p = self.pool
        if self.unpooling == "nearest":
            return F.interpolate(x, scale_factor=p, mode="nearest")[..., : size[0], : size[1]]
        if switches is None:
            switches = self._corner_switches(x, size)
        return F.max_unpool2d(x.contiguous(), switches, p, p, output_size=size)

    def _corner_switches(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Switches pointing at the top-left cell of every block, for codes without an input."""
        h, w = x.shape[-2:]
        rows = torch.arange(h, device=x.device) * self.pool
        cols = torch.arange(w, device=x.device) * self.pool
        idx = rows[:, None] * size[1] + cols[None, :]
        return idx.expand(x.shape).contiguous()

    def decoder_parameters(self):
        yield from self.ups.parameters()
        if self.from_code is not None:
            yield from self.from_code.parameters()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats, switches = self.encode(x)
        code = code_to_decode(stats, self.training, self.variational, self.binary, self.binary_noise)
        return stats, self.decode(code, switches)
