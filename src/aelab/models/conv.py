"""The convolutional auto-encoder: convolution and pooling down, unpooling and deconvolution up.

Each encoder stage is a convolution (``same`` padding) and an activation, then max pooling (a
partial block at the edge is pooled too, so any image size works). The decoder mirrors it: each
pooling is undone by unpooling to the size it came from, each convolution by a transposed
convolution ("deconvolution") or a plain convolution. Unpooling comes in the two kinds of the
lecture: ``max`` puts each value back where the maximum came from (the encoder's switches) and
zeros elsewhere; ``nearest`` copies it to the whole block, as Keras's UpSampling2D does.

Decoding codes that no input produced (``inverse_transform``, generation) has no switches; ``max``
unpooling then puts each value in the top-left corner of its block. Reconstructions of inputs
(``reconstruct``, ``reconstruction_error``) always use the switches.

Images are held channels-last (rows of H x W x C), which is also the fastest memory layout for
these small convolutions on a CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DataError
from .base import check_choices
from .mlp import ACTIVATIONS
from .neural import COMMON_DEFAULTS, COMMON_PARAMETERS_DOC, NeuralAutoEncoder

UNPOOLING = ("max", "nearest")
UPSAMPLING = ("deconv", "conv")
INPLACE = ("relu", "elu", "silu", "leaky_relu")  # activations that can overwrite their input: no extra buffer
CONV_NORMALIZATIONS = {"batch": nn.BatchNorm2d, "none": None}


def _stage(conv: nn.Module, channels: int, activation: str, normalization: str) -> nn.Sequential:
    norm = CONV_NORMALIZATIONS[normalization]
    act = ACTIVATIONS[activation]
    return nn.Sequential(conv, *([norm(channels)] if norm is not None else []),
                         act(inplace=True) if activation in INPLACE else act())


class ConvAutoEncoderNet(nn.Module):
    """Convolution + pooling stages of ``channels``, an optional dense code of ``n_components``,
    and the mirrored decoder."""

    def __init__(self, image_shape: tuple[int, ...], channels: tuple[int, ...], kernel_size: int, pool_size: int,
                 unpooling: str, upsampling: str, n_components: int | None, activation: str, normalization: str,
                 variational: bool = False):
        super().__init__()
        height, width = image_shape[:2]
        self.in_channels = image_shape[2] if len(image_shape) == 3 else 1
        self.image_size = (height, width)
        self.pool, self.unpooling = pool_size, unpooling
        pad = kernel_size // 2
        widths = [self.in_channels, *channels]
        self.stages = nn.ModuleList(
            _stage(nn.Conv2d(c_in, c_out, kernel_size, padding=pad), c_out, activation, normalization)
            for c_in, c_out in zip(widths[:-1], widths[1:]))
        self.sizes = []  # feature-map size before each pooling
        h, w = height, width
        for _ in channels:
            self.sizes.append((h, w))
            h, w = math.ceil(h / pool_size), math.ceil(w / pool_size)
        self.top = (channels[-1], h, w)
        flat = channels[-1] * h * w
        if n_components:
            self.to_code = nn.Linear(flat, n_components * (2 if variational else 1))
            self.from_code = nn.Sequential(nn.Linear(n_components, flat), ACTIVATIONS[activation]())
        else:
            self.to_code = self.from_code = None
        layer = nn.ConvTranspose2d if upsampling == "deconv" else nn.Conv2d
        ups = []
        for i in reversed(range(len(channels))):
            c_in, c_out = widths[i + 1], widths[i]
            conv = layer(c_in, c_out, kernel_size, padding=pad)
            ups.append(conv if i == 0 else _stage(conv, c_out, activation, normalization))
        self.ups = nn.ModuleList(ups)
        self.to(memory_format=torch.channels_last)

    def encode(self, x: torch.Tensor):
        n = len(x)
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
        n = len(z)
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
            return F.interpolate(x, scale_factor=p, mode="nearest")[..., :size[0], :size[1]]
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code, switches = self.encode(x)
        return self.decode(code, switches)


class ConvAutoEncoder(NeuralAutoEncoder):
    __doc__ = f"""A convolutional auto-encoder for images of any size and channel count.

    Parameters
    ----------
    n_components : size of a dense code after the last pooling (None: the pooled feature maps,
        flattened, are the code).
    channels : output channels of each convolution + pooling stage.
    kernel_size : convolution kernel size (odd; ``same`` padding).
    pool_size : max-pooling block size.
    unpooling : "max" (values back where the maxima were, zeros elsewhere) or "nearest" (each
        value copied to its whole block).
    upsampling : decoder layer after each unpooling: "deconv" (transposed convolution) or "conv".
    activation : activation after every convolution but the output.
    normalization : "batch" or "none", after every hidden convolution.
{COMMON_PARAMETERS_DOC}
    Examples
    --------
    >>> from aelab import ConvAutoEncoder, datasets
    >>> ds = datasets.load("digits")
    >>> cae = ConvAutoEncoder(channels=(8, 4), n_components=2, epochs=2, random_state=0)
    >>> cae.fit(ds.train.X, image_shape=ds.image_shape).transform(ds.test.X).shape
    (360, 2)
    """

    _FITTED = NeuralAutoEncoder._FITTED + ("n_components_",)

    def __init__(self, n_components=None, channels=(16, 8, 8), kernel_size=3, pool_size=2, unpooling="max",
                 upsampling="deconv", activation="relu", normalization="none",
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
        if self.n_components is not None and int(self.n_components) < 1:
            raise DataError(f"n_components must be at least 1 (or None for no dense code), not {self.n_components}")
        if not self.channels or any(int(c) < 1 for c in self.channels):
            raise DataError(f"channels must be positive sizes like 16-8-8, not {self.channels!r}")
        if int(self.kernel_size) < 1 or int(self.kernel_size) % 2 == 0:
            raise DataError(f"kernel_size must be odd (3, 5, ...), not {self.kernel_size}")
        if int(self.pool_size) < 1:
            raise DataError(f"pool_size must be at least 1, not {self.pool_size}")
        check_choices(("unpooling", self.unpooling, UNPOOLING), ("upsampling", self.upsampling, UPSAMPLING),
                      ("activation", self.activation, ACTIVATIONS),
                      ("normalization", self.normalization, CONV_NORMALIZATIONS))
        if self.variational and not self.n_components:
            raise DataError("a variational ConvAutoEncoder needs a dense code: set n_components (e.g. 2 or 16)")

    def _check_architecture(self) -> None:
        if not self.image_shape_ or len(self.image_shape_) not in (2, 3):
            raise DataError("ConvAutoEncoder needs images: fit it on an array of images (n, height, width[, "
                            "channels]) or pass image_shape=(height, width[, channels]), or use AutoEncoder")
        net = self._build(self.n_features_in_)
        self.n_components_ = int(self.n_components) if self.n_components else int(math.prod(net.top))

    def _build(self, n_features: int) -> ConvAutoEncoderNet:
        return ConvAutoEncoderNet(self.image_shape_, tuple(int(c) for c in self.channels), int(self.kernel_size),
                                  int(self.pool_size), self.unpooling, self.upsampling,
                                  int(self.n_components) if self.n_components else None, self.activation,
                                  self.normalization, bool(self.variational))
