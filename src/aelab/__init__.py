"""aelab: auto-encoders that compress, map, search and generate your data, always beside PCA.

>>> import aelab
>>> ds = aelab.datasets.load("digits")
>>> ae = aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(64, 32), epochs=5, random_state=0)
>>> round(ae.fit(ds.train.X).reconstruction_error(ds.test.X)) > 0
True

Sub-packages and the names below load on first use, so that ``import aelab`` (and ``aelab --help``)
stays quick: ``aelab.search``, ``aelab.report``, ``aelab.generate``, ``aelab.text``... all work
after ``import aelab`` alone.
"""

from __future__ import annotations

import importlib
import os

from .errors import AelabError, DataError, ModelError, ParameterError

__version__ = "0.1.0"

#: Public names and the module each comes from.
_NAMES = {
    "AutoEncoder": "models",
    "Classifier": "models",
    "CodeModel": "models",
    "ConvAutoEncoder": "models",
    "ITQ": "models",
    "LSA": "models",
    "PCA": "models",
    "DocumentModel": "text",
    "DocumentSearch": "text",
}
_SUBPACKAGES = (
    "datasets",
    "demo",
    "generate",
    "jobs",
    "limits",
    "models",
    "nn",
    "objectives",
    "params",
    "report",
    "schemas",
    "search",
    "serve",
    "storage",
    "text",
    "training",
    "validation",
)

__all__ = ["AelabError", "DataError", "ModelError", "ParameterError", "load", "__version__", *_NAMES, *_SUBPACKAGES]


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'aelab' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def load(path: str | os.PathLike):
    """Bring back any model saved by aelab (``model.save(path)``), whatever its class. No code is
    executed: the folder holds JSON and safetensors only."""
    from . import models, text  # noqa: F401  (text registers DocumentModel)

    return models.load(path)
