"""The scikit-learn estimators: models that map samples to codes and back (the auto-encoders, the
PCA and LSA baselines), and the classifier that reuses an encoder's layers. Each saves itself as a
folder and comes back through :func:`load`."""

from .base import CodeModel, SavedModel, load, restore, squared_error
from .classifier import Classifier
from .conv import ConvAutoEncoder
from .itq import ITQ
from .lsa import LSA
from .mlp import AutoEncoder
from .pca import PCA
from .torch_base import TorchEstimator, fit_to_folder

__all__ = [
    "AutoEncoder",
    "Classifier",
    "CodeModel",
    "ConvAutoEncoder",
    "ITQ",
    "LSA",
    "PCA",
    "SavedModel",
    "TorchEstimator",
    "fit_to_folder",
    "load",
    "restore",
    "squared_error",
]
