"""Text in, codes out: the vector-space model and a code model (the document auto-encoder, or its
LSA baseline) fitted and saved together, so that a saved document model encodes new text alone.

The auto-encoder's default recipe was chosen on 20 Newsgroups (benchmarks/text_20news.py and
benchmarks/hashing.py): word counts over a 2,000-word vocabulary; log(1 + count), each document's
scaled to unit length, into a 2000-1000-500-250-N encoder of batch norm and GELU; a softmax output
trained with the cross-entropy against each document's word distribution (Hinton and
Salakhutdinov's reconstruction of word counts); 40% of the words masked at the input; the
neighbour-keeping term over the graph of the documents' words (each document near its 50 nearest
by the cosine of their rarity-weighted log counts); AdamW at 1e-3 without weight decay, batches
of 128, 40 epochs. Without the term (``keep_neighbours=0``) the former recipe trains: tanh layers
without normalisation on log counts as they are, which ranked better than batch norm and GELU
without the term, but kept the term's codes in a small ball."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from ..errors import DataError, ModelError, ParameterError
from ..models import LSA, AutoEncoder, CodeModel, restore
from ..params import (
    DOCUMENT_BINARY_NEIGHBOURS,
    DOCUMENT_KINDS,
    DOCUMENT_LOSSES,
    DOCUMENT_N_NEIGHBOURS,
    DOCUMENT_NEIGHBOUR_BINARY_NOISE,
    N_NEIGHBOURS,
    WEIGHTINGS,
    auto_document_neighbours,
    auto_document_training,
    auto_n_neighbours,
    check_bits,
    check_params,
)
from ..validation import check_choices
from .vectorize import DocumentVectorizer

_CODE_MODEL = "code_model."


class DocumentModel(CodeModel):
    """Documents (strings) to ``n_components`` codes.

    Parameters
    ----------
    n_components : code size (10 for retrieval, 2 for a map).
    kind : "autoencoder" (the document auto-encoder) or "lsa" (truncated SVD, the baseline).
    weighting : the document vectors the code model sees: "counts", "tf", "tfidf" or "idf"
        (see :mod:`aelab.text.vectorize`); "auto" is counts for the auto-encoder, TF-IDF for LSA.
    max_features : vocabulary size (the most frequent words once stop words are removed).
    loss : the auto-encoder's reconstruction loss: "multinomial" (softmax output, cross-entropy
        against each document's word distribution), "mse", or "auto" (multinomial).
    epochs, batch_size : "auto": batches of 128 and 40 epochs, or for fewer documents smaller
        batches and more epochs, so that training takes at least 3,000 steps.
    hidden_layer_sizes, denoise, epochs, batch_size, learning_rate : the auto-encoder's
        architecture and training (ignored by LSA).
    binary : codes of ``n_components`` bits (semantic hashing; the auto-encoder's alone), which
        an index ranks by Hamming distance.
    keep_neighbours : weight of the term that keeps each document's nearest neighbours (by the
        cosine of their words, weighted by rarity) near it in the codes, with which the encoder
        uses batch norm and GELU; 0 gives the former recipe (tanh layers, no normalisation);
        "auto" is ``DOCUMENT_KEEP_NEIGHBOURS`` for codes of more than two dimensions and bits,
        0 for 2-D maps, whose documents the former recipe keeps nearer their newsgroup.
    n_neighbours : the nearest documents of each that the term keeps near it (fewer than the
        documents); "auto" is ``DOCUMENT_N_NEIGHBOURS``, or every other document when there are
        not more.
    random_state, verbose : seed, and a progress bar while training.
    contamination : the share of training documents that ``predict`` flags as anomalies, or "auto"
        (see :mod:`aelab.models.anomaly`; the scores are the code model's, of the documents' words).

    Examples
    --------
    >>> from aelab.text import DocumentModel
    >>> docs = ["red apple pie", "green apple tart", "fast red car", "car race track"] * 5
    >>> DocumentModel(n_components=2, kind="lsa", random_state=0).fit(docs).transform(["apple car"]).shape
    (1, 2)
    """

    def __init__(
        self,
        n_components=10,
        kind="autoencoder",
        weighting="auto",
        max_features=2000,
        loss="auto",
        hidden_layer_sizes=(1000, 500, 250),
        denoise="mask:0.4",
        binary=False,
        keep_neighbours="auto",
        n_neighbours="auto",
        epochs="auto",
        batch_size="auto",
        learning_rate=1e-3,
        random_state=None,
        verbose=False,
        contamination="auto",
    ):
        self._init_params(locals())

    # --- fitting -------------------------------------------------------------------------------
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False  # it takes texts, as scikit-learn's own vectorizers do
        tags.input_tags.string = True
        return tags

    def fit(self, texts, y=None, *, checkpoint_dir=None, resume=False):
        """Fit the vocabulary and the code model on ``texts`` (a list of strings). Returns self.

        ``checkpoint_dir`` and ``resume`` let an interrupted auto-encoder run continue.
        """
        check_choices(
            ("kind", self.kind, DOCUMENT_KINDS),
            ("weighting", self.weighting, ("auto", *WEIGHTINGS)),
            ("loss", self.loss, DOCUMENT_LOSSES),
        )
        check_params(self.get_params(deep=False))
        if self.binary and self.kind != "autoencoder":
            raise ParameterError("binary codes are learnt by the document auto-encoder, not by LSA")
        if self.binary:
            check_bits(self.n_components)
        texts = _texts(texts)
        weighting = (
            self.weighting if self.weighting != "auto" else ("counts" if self.kind == "autoencoder" else "tfidf")
        )
        self.vectorizer_ = DocumentVectorizer(weighting, int(self.max_features)).fit(texts)
        X = self.vectorizer_.transform(texts)
        self.n_features_in_ = X.shape[1]
        if self.kind == "lsa":
            self.code_model_ = LSA(n_components=self.n_components, random_state=self.random_state).fit(X)
        else:
            if X.shape[0] < 2:
                raise DataError("a document auto-encoder needs at least 2 documents to train on")
            self.code_model_ = self._autoencoder(weighting, X.shape[0]).fit(
                X.toarray(), checkpoint_dir=checkpoint_dir, resume=resume
            )
        self.weighting_ = weighting
        return self

    def _autoencoder(self, weighting: str, n_documents: int) -> AutoEncoder:
        words = self.loss in ("auto", "multinomial")
        batch, epochs = auto_document_training(n_documents)
        neighbours = (
            float(self.keep_neighbours)
            if self.keep_neighbours != "auto"
            else auto_document_neighbours(int(self.n_components))
        )
        graph = (
            auto_n_neighbours(n_documents, DOCUMENT_N_NEIGHBOURS) if self.n_neighbours == "auto" else self.n_neighbours
        )
        return AutoEncoder(
            n_components=int(self.n_components),
            hidden_layer_sizes=self.hidden_layer_sizes
            if self.hidden_layer_sizes == "auto"
            else tuple(self.hidden_layer_sizes),
            activation="gelu" if neighbours else "tanh",
            normalization="batch" if neighbours else "none",
            log_input=("unit" if neighbours else True) if words and weighting == "counts" else False,
            output_activation="softmax" if words else "auto",
            loss="multinomial" if words else "mse",
            scaling="none" if words else "auto",
            denoise=self.denoise,
            keep_neighbours=neighbours,
            n_neighbours=graph,
            binary=bool(self.binary),
            binary_noise=DOCUMENT_NEIGHBOUR_BINARY_NOISE if neighbours and self.binary else "auto",
            binary_neighbours=DOCUMENT_BINARY_NEIGHBOURS,
            epochs=epochs if self.epochs == "auto" else self.epochs,
            batch_size=batch if self.batch_size == "auto" else self.batch_size,
            learning_rate=self.learning_rate,
            weight_decay=0.0,
            validation_fraction=0.0,
            patience=None,
            random_state=self.random_state,
            verbose=self.verbose,
        )

    # --- codes ---------------------------------------------------------------------------------
    def vectorize(self, texts) -> sp.csr_matrix:
        """The documents' sparse word vectors (the weighting the code model was trained on)."""
        check_is_fitted(self)
        return self.vectorizer_.transform(_texts(texts))

    def transform(self, texts, chunk: int = 4096) -> np.ndarray:
        """Codes of ``texts`` (a list of strings, or one string), a chunk of documents at a time."""
        X = self.vectorize(texts)
        if self.kind == "lsa":
            return self.code_model_.transform(X)
        return np.concatenate(
            [self.code_model_.transform(X[i : i + chunk].toarray()) for i in range(0, X.shape[0], chunk)]
        )

    def inverse_transform(self, Z) -> np.ndarray:
        """Word weights decoded from codes (for the default auto-encoder, word distributions)."""
        check_is_fitted(self)
        return self.code_model_.inverse_transform(Z)

    def reconstruction_error(self, texts) -> float:
        """The code model's reconstruction error of the documents' word vectors."""
        X = self.vectorize(texts)
        return self.code_model_.reconstruction_error(X if self.kind == "lsa" else X.toarray())

    # --- anomalies: the code model's scores of the documents' words ------------------------------
    def anomaly_scores(self, texts, kind: str = "auto", chunk: int = 4096) -> np.ndarray:
        """The code model's anomaly scores of the documents' words (higher = more unusual; see
        :mod:`aelab.models.anomaly`): by default, how badly it rebuilds them and how far their
        codes lie from the training documents'. A chunk of documents at a time."""
        X = self.vectorize(texts)
        return np.concatenate(
            [self.code_model_.anomaly_scores(self._words(X[i : i + chunk]), kind) for i in range(0, X.shape[0], chunk)]
        )

    def error_maps(self, texts) -> np.ndarray:
        """Per document and word, what the reconstruction missed (see :meth:`vocabulary`)."""
        return self.code_model_.error_maps(self._words(self.vectorize(texts)))

    def _anomaly_reference(self) -> dict:
        check_is_fitted(self)
        return self.code_model_._anomaly_reference()

    def _words(self, X: sp.csr_matrix):
        """Word vectors as the code model takes them (the auto-encoder: dense)."""
        return X if self.kind == "lsa" else X.toarray()

    @property
    def n_components_(self) -> int:
        return self.code_model_.code_size

    @property
    def vocabulary(self) -> list[str]:
        check_is_fitted(self)
        return self.vectorizer_.vocabulary

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "code_model_")

    # --- saving --------------------------------------------------------------------------------
    @classmethod
    def _upgraded(cls, params: dict) -> dict:
        """A document model saved before keep_neighbours existed was trained without it; one saved
        before n_neighbours existed kept the image models' number of neighbours."""
        params = params if "keep_neighbours" in params else dict(params, keep_neighbours=0.0)
        return params if "n_neighbours" in params else dict(params, n_neighbours=N_NEIGHBOURS)

    def _saved_state(self):
        config, tensors = self.code_model_.stored()
        fitted = {"weighting_": self.weighting_, "vectorizer": self.vectorizer_.state(), "code_model": config}
        return fitted, {_CODE_MODEL + k: v for k, v in tensors.items()}

    def _restore_state(self, fitted, tensors):
        self.weighting_ = fitted["weighting_"]
        self.vectorizer_ = DocumentVectorizer.from_state(fitted["vectorizer"])
        inner = {k[len(_CODE_MODEL) :]: v for k, v in tensors.items() if k.startswith(_CODE_MODEL)}
        self.code_model_ = restore(fitted["code_model"], inner, "the document model's code model")
        words = len(self.vectorizer_.vocabulary)
        if self.code_model_.n_features_in_ != words or self.n_features_in_ != words:
            raise ModelError(
                f"its vocabulary has {words} words, its code model takes {self.code_model_.n_features_in_}"
            )


def _texts(texts) -> list[str]:
    """A list of documents; one string is one document."""
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, bytearray)) or not hasattr(texts, "__iter__"):
        raise DataError(f"documents must be strings (a list of them, or one), not {type(texts).__name__}")
    texts = list(texts)
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise DataError(f"documents must be strings, found a {type(bad).__name__}")
    if not texts:
        raise DataError("no documents given")
    return texts
