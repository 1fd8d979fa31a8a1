"""Plain ``torch.nn.Module``s: layer builders and the auto-encoder networks. No scikit-learn here.

An auto-encoder net has ``encode(x) -> (stats, aux)`` and ``decode(code, aux) -> logits`` (``aux``
carries what the decoder may reuse, such as max-pooling switches; ``stats`` is the code, or the
code's mean and log-variance side by side for a variational net), and ``forward(x) -> (stats,
logits)``, the one door that training goes through.
"""

from .conv import ConvAutoEncoderNet
from .layers import activation, layer, mlp
from .mlp import MLPAutoEncoderNet, ShallowAutoEncoder, binarize, log_features

__all__ = [
    "ConvAutoEncoderNet",
    "MLPAutoEncoderNet",
    "ShallowAutoEncoder",
    "activation",
    "binarize",
    "layer",
    "log_features",
    "mlp",
]
