"""aelab: auto-encoders that compress, map, search and generate your data, always beside PCA.

>>> import aelab
>>> ds = aelab.datasets.load("digits")
>>> ae = aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(64, 32), epochs=5, random_state=0)
>>> round(ae.fit(ds.train.X).reconstruction_error(ds.test.X)) > 0
True
"""

from . import datasets, generate
from .errors import AelabError, DataError, ModelError
from .models import LSA, PCA, AutoEncoder, Classifier, CodeModel, ConvAutoEncoder, DocumentModel, load

__version__ = "0.1.0"
__all__ = ["AelabError", "AutoEncoder", "Classifier", "CodeModel", "ConvAutoEncoder", "DataError", "DocumentModel",
           "LSA", "ModelError", "PCA", "datasets", "generate", "load", "__version__"]
