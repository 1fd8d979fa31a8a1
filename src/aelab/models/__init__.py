"""Models that map samples to codes and back (the auto-encoders and the PCA baseline), and the
classifier that reuses an encoder's layers."""

from .base import CodeModel, SavedModel, load
from .classifier import Classifier
from .conv import ConvAutoEncoder
from .document import DocumentModel
from .lsa import LSA
from .mlp import AutoEncoder
from .pca import PCA

__all__ = ["AutoEncoder", "Classifier", "CodeModel", "ConvAutoEncoder", "DocumentModel", "LSA", "PCA", "SavedModel",
           "load"]
