"""Models that map samples to codes and back: the MLP auto-encoder and the PCA baseline."""

from .base import CodeModel, load
from .mlp import AutoEncoder
from .pca import PCA

__all__ = ["AutoEncoder", "CodeModel", "PCA", "load"]
