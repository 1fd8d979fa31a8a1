"""The vector-space model: documents as bag-of-words vectors (scikit-learn's vectorizers).

Weightings, per document d and word w:

- ``counts``: how often w occurs in d (bag-of-words);
- ``tf``: counts divided by the number of counted words in d (term frequency; rows sum to 1);
- ``idf``: 1 where w occurs in d, times w's inverse document frequency;
- ``tfidf``: counts times IDF, each row scaled to unit length (scikit-learn's TF-IDF).

The vocabulary is the ``max_features`` most frequent words (2,000 by default) once English stop
words are removed; a word is two or more letters (numbers, dates and message ids such as
``1993apr15`` are left out: on 20 Newsgroups they took a tenth of a 2,000-word vocabulary).
A fitted vectorizer is stored as JSON (its vocabulary and IDF weights), never pickled, so a
saved document model encodes new text on its own.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

from ..errors import DataError, ModelError, ParameterError
from ..params import WEIGHTINGS, WORDS


class DocumentVectorizer:
    """Documents to sparse float32 rows of ``max_features`` word weights.

    >>> v = DocumentVectorizer("counts", max_features=3).fit(["red apple", "red car", "red red apple"])
    >>> v.vocabulary
    ['apple', 'car', 'red']
    >>> v.transform(["red red car"]).toarray().tolist()
    [[0.0, 1.0, 2.0]]
    """

    def __init__(
        self,
        weighting: str = "tfidf",
        max_features: int = 2000,
        stop_words: str | None = "english",
        min_df: int = 1,
        token_pattern: str = WORDS,
    ):
        if weighting not in WEIGHTINGS:
            raise ParameterError(f"weighting must be one of {', '.join(WEIGHTINGS)}, not {weighting!r}")
        if int(max_features) < 1:
            raise ParameterError(f"max_features must be at least 1, not {max_features}")
        self.weighting, self.max_features = weighting, int(max_features)
        self.stop_words, self.min_df, self.token_pattern = stop_words, min_df, token_pattern
        self.vocabulary: list[str] | None = None
        self.idf: np.ndarray | None = None

    def fit(self, texts) -> DocumentVectorizer:
        counter = CountVectorizer(
            max_features=self.max_features,
            stop_words=self.stop_words,
            min_df=self.min_df,
            token_pattern=self.token_pattern,
            dtype=np.float32,
        )
        try:
            counts = counter.fit_transform(texts)
        except ValueError as exc:  # scikit-learn: "empty vocabulary"
            raise DataError(f"no words to build a vocabulary from ({exc}); are the documents empty?") from None
        self.vocabulary = counter.get_feature_names_out().tolist()
        self.idf = TfidfTransformer().fit(counts).idf_.astype(np.float32)
        return self

    def transform(self, texts) -> sp.csr_matrix:
        """Sparse rows of word weights (an empty document is a row of zeros)."""
        if self.vocabulary is None:
            raise ModelError("the vectorizer is not fitted; call fit first")
        counter = CountVectorizer(
            vocabulary=self.vocabulary, stop_words=self.stop_words, token_pattern=self.token_pattern, dtype=np.float32
        )
        counts = counter.transform(texts).tocsr()
        if self.weighting == "counts":
            return counts
        if self.weighting == "tf":
            totals = np.asarray(counts.sum(1)).ravel()
            return sp.csr_matrix(sp.diags(1.0 / np.where(totals > 0, totals, 1.0)).astype(np.float32) @ counts)
        if self.weighting == "idf":
            presence = counts.copy()
            presence.data[:] = 1.0
            return sp.csr_matrix(presence @ sp.diags(self.idf))
        transformer = TfidfTransformer()
        transformer.idf_ = self.idf
        return transformer.transform(counts).astype(np.float32).tocsr()

    def word_counts(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """Per text, how many of its words are in the vocabulary, and how many words it has (words
        as the vocabulary counts them: two or more letters, stop words left out)."""
        if self.vocabulary is None:
            raise ModelError("the vectorizer is not fitted; call fit first")
        analyze = CountVectorizer(stop_words=self.stop_words, token_pattern=self.token_pattern).build_analyzer()
        known = set(self.vocabulary)
        tokens = [analyze(t) for t in texts]
        return np.array([sum(w in known for w in ts) for ts in tokens]), np.array([len(ts) for ts in tokens])

    def fit_transform(self, texts) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)

    @property
    def n_features(self) -> int:
        return len(self.vocabulary or ())

    # --- storage (plain JSON) --------------------------------------------------------------------
    def state(self) -> dict:
        if self.vocabulary is None:
            raise ModelError("the vectorizer is not fitted; call fit first")
        return {
            "weighting": self.weighting,
            "max_features": self.max_features,
            "stop_words": self.stop_words,
            "min_df": self.min_df,
            "token_pattern": self.token_pattern,
            "vocabulary": self.vocabulary,
            "idf": self.idf.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict) -> DocumentVectorizer:
        try:
            v = cls(
                state["weighting"],
                state["max_features"],
                state["stop_words"],
                state.get("min_df", 1),
                state.get("token_pattern", WORDS),
            )
            v.vocabulary = list(state["vocabulary"])
            v.idf = np.asarray(state["idf"], dtype=np.float32)
        except (KeyError, TypeError) as exc:
            raise ModelError(f"the stored vectorizer is incomplete ({exc}); the model folder is damaged") from None
        if len(v.idf) != len(v.vocabulary):
            raise ModelError("the stored vectorizer's vocabulary and IDF weights differ in length; it is damaged")
        if len(set(v.vocabulary)) != len(v.vocabulary) or not np.isfinite(v.idf).all():
            raise ModelError("the stored vectorizer repeats a word or has a weight that is not a number; it is damaged")
        return v
