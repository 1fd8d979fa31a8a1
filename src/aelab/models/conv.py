"""The convolutional auto-encoder (the lecture's): convolution and pooling down, unpooling and
deconvolution up; the net is :class:`aelab.nn.ConvAutoEncoderNet`.

With ``max`` unpooling (a plain code's, by default), reconstructions of inputs (``reconstruct``,
``reconstruction_error``) use the max-pooling switches of the encoder; decoding codes that no input
produced (``inverse_transform``, generation) has none, and each value then goes to the top-left
corner of its block.
"""

from __future__ import annotations

import math

import torch

from ..errors import DataError, ModelError, ParameterError
from ..nn import ConvAutoEncoderNet
from ..params import ACTIVATIONS, CONV_NORMALIZATIONS, UNPOOLING, UPSAMPLING, auto_conv_effort
from ..validation import check_choices
from .autoencoder import COMMON_PARAMETERS_DOC, NeuralAutoEncoder
from .base import is_image_shape


class ConvAutoEncoder(NeuralAutoEncoder):
    __doc__ = f"""A convolutional auto-encoder for images of any size and channel count.

    Parameters
    ----------
    n_components : size of a dense code after the last pooling (30, as the MLP's and PCA's), or None for
        the lecture's variant whose code is the pooled feature maps, flattened (they grow with the image:
        1,344 numbers for 112x92, where PCA of that size is nearly lossless).
    channels : output channels of each convolution + pooling stage.
    kernel_size : convolution kernel size (odd; ``same`` padding).
    pool_size : max-pooling block size.
    unpooling : "max" (values back where the maxima were, zeros elsewhere), "nearest" (each
        value copied to its whole block), or "auto": max for a plain code, nearest for a binary or
        variational one. Max unpooling hands the decoder where each maximum was, beside the code;
        a decoder trained on that and a noisy code learns to ignore the code (binary codes ranked
        MNIST at chance), so binary codes refuse it.
    upsampling : decoder layer after each unpooling: "deconv" (transposed convolution) or "conv".
    activation : activation after every convolution but the output.
    normalization : "batch" or "none", after every hidden convolution.
    image_shape : (height, width[, channels]) of the images when they come as rows of features;
        one side may be -1, inferred from the number of features (``(1, -1)``: each row a strip one
        pixel high, for 1-D signals such as spectra). None (the default) takes it from the data:
        ``fit``'s ``image_shape``, the data's ``image_shape`` or an array of images (n, height,
        width[, channels]).
{COMMON_PARAMETERS_DOC}
    Examples
    --------
    >>> from aelab import ConvAutoEncoder, datasets
    >>> ds = datasets.load("digits")
    >>> cae = ConvAutoEncoder(channels=(8, 4), n_components=2, epochs=2, random_state=0)
    >>> cae.fit(ds.train.X, image_shape=ds.image_shape).transform(ds.test.X).shape
    (360, 2)
    >>> ConvAutoEncoder(image_shape=(8, 8), channels=(4,), n_components=2, epochs=1).fit(ds.train.X).image_shape_
    (8, 8)
    """

    _FITTED = NeuralAutoEncoder._FITTED + ("n_components_",)

    # the arguments from output_activation on are the table of aelab.params (a test holds them to it)
    def __init__(
        self,
        n_components=30,
        channels=(16, 8, 8),
        kernel_size=3,
        pool_size=2,
        unpooling="auto",
        upsampling="deconv",
        activation="relu",
        normalization="none",
        image_shape=None,
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

    _MAY_BE_NONE = ("n_components",)  # the pooled feature maps as the code

    def _check_params(self):
        super()._check_params()  # the declared parameters: n_components, channels, kernel_size, pool_size...
        check_choices(
            ("unpooling", self.unpooling, ("auto", *UNPOOLING)),
            ("upsampling", self.upsampling, UPSAMPLING),
            ("activation", self.activation, ACTIVATIONS),
            ("normalization", self.normalization, CONV_NORMALIZATIONS),
        )
        if self.image_shape is not None and not is_image_shape(self.image_shape, inferred=True):
            raise ParameterError(
                "image_shape must be None or (height, width[, channels]), whole numbers >= 1 (one may be -1, "
                f"inferred from the number of features), not {self.image_shape!r}"
            )
        if self.binary and self.unpooling == "max":
            raise ParameterError(
                "a binary ConvAutoEncoder cannot use unpooling='max': its decoder would rebuild each image "
                "from the pooling switches and ignore the bits; use unpooling='nearest' (or 'auto')"
            )
        if self.binary and not self.n_components:
            raise ParameterError("a binary ConvAutoEncoder needs a dense code: set n_components (its bits, e.g. 32)")
        if self.variational and not self.n_components:
            raise ParameterError("a variational ConvAutoEncoder needs a dense code: set n_components (e.g. 2 or 16)")

    def _check_architecture(self) -> None:
        if not self.image_shape_ or len(self.image_shape_) not in (2, 3):
            raise DataError(
                "ConvAutoEncoder needs images: fit it on an array of images (n, height, width[, channels]), "
                "or give ConvAutoEncoder(image_shape=(height, width[, channels])) (fit's image_shape too; "
                "(1, -1) for rows of features), or use AutoEncoder"
            )
        with torch.device("meta"):  # its shape alone: no memory (its size is checked when it is built)
            net = self._build(self.n_features_in_)
        self.n_components_ = int(self.n_components) if self.n_components else int(math.prod(net.top))

    def _restore_state(self, fitted, tensors):
        super()._restore_state(fitted, tensors)
        made = int(self.n_components) if self.n_components else int(math.prod(self.module_.top))
        if self.n_components_ != made:
            raise ModelError(f"n_components_ is {self.n_components_}, but its net makes codes of {made} numbers")

    def _unpooling(self) -> str:
        """The unpooling that "auto" stands for: the lecture's max, unless the code is noisy in training."""
        if self.unpooling != "auto":
            return self.unpooling
        return "nearest" if self.binary or self.variational else "max"

    def _auto_effort(self) -> float:
        return auto_conv_effort(self.image_shape_)

    def _build(self, n_features: int) -> ConvAutoEncoderNet:
        return ConvAutoEncoderNet(
            self.image_shape_,
            tuple(int(c) for c in self.channels),
            int(self.kernel_size),
            int(self.pool_size),
            self._unpooling(),
            self.upsampling,
            int(self.n_components) if self.n_components else None,
            self.activation,
            self.normalization,
            bool(self.variational),
            bool(self.binary),
            self._binary_noise(),
        )
