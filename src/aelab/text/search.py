"""A search engine and a map over a text collection: the lecture's text retrieval end to end.

Every training document is encoded by a document model (:class:`aelab.text.DocumentModel`:
the vocabulary, then the document auto-encoder, or LSA as the baseline) and its code goes into a
cosine :class:`aelab.search.Index`. A query is written text, encoded the same way; its nearest
documents come back with their labels, and the labels of those neighbours, with their shares,
are the query's predicted topic.

On disk a :class:`DocumentSearch` is a folder: ``search.json``, ``documents.json`` (each
document's first line, for display) and one index folder per model (``autoencoder/``,
``lsa/``), each holding its document model.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import schemas
from ..errors import DataError, ModelError
from ..params import DOCUMENT_KINDS
from ..search import Index, default_metric, evaluate, neighbour_agreement
from ..storage import atomic_path, folder_file, read_json, read_tagged_folder, save_json
from ..validation import check_choices
from .corpus import Documents
from .model import DocumentModel

FORMAT, SEARCH_FILE, DOCUMENTS_FILE = "aelab-text", "search.json", "documents.json"
FIRST_LINE_CHARS = 100
RETRIEVAL_KS = (1, 10, 100)
MODEL_NAMES = {"autoencoder": "document auto-encoder", "lsa": "LSA"}


@dataclass
class Hit:
    rank: int
    id: str
    label: str | None
    score: float
    first_line: str


@dataclass
class Result:
    """A query's nearest documents (cosine similarity, greatest first) and its predicted topic:
    the labels among those documents with their shares, largest first."""

    query: str
    model: str
    hits: list[Hit]
    topics: list[tuple[str, float]]
    words: int = 0  # the query's words (two or more letters, stop words left out)
    words_used: int = 0  # those in the vocabulary: the words the search used

    def as_dict(self) -> dict:
        return asdict(self)


class DocumentSearch:
    """Document models and the indexes of their codes over one text collection.

    Examples
    --------
    >>> from aelab.text import Documents, DocumentSearch
    >>> docs = Documents(["rocket orbit launch", "orbit moon rocket", "car engine wheel", "wheel car road"],
    ...                  ["a", "b", "c", "d"], np.array(["space", "space", "cars", "cars"]))
    >>> engine = DocumentSearch.build(docs, n_components=2, models=("lsa",), random_state=0)
    >>> result = engine.search("a rocket to the moon", k=2, model="lsa")
    >>> [hit.label for hit in result.hits], result.topics
    (['space', 'space'], [('space', 1.0)])
    """

    def __init__(self, indexes: dict[str, Index], first_lines: list[str], info: dict | None = None):
        self.indexes, self.first_lines, self.info = indexes, first_lines, dict(info or {})

    @classmethod
    def build(
        cls,
        documents: Documents,
        n_components: int = 10,
        models=DOCUMENT_KINDS,
        max_features: int = 2000,
        random_state=None,
        verbose: bool = False,
        checkpoint_dir=None,
        resume: bool = False,
        info: dict | None = None,
        **autoencoder,
    ) -> DocumentSearch:
        """Fit each model in ``models`` ("autoencoder", "lsa") on the documents and index their codes.

        ``autoencoder`` holds further :class:`DocumentModel` arguments of the auto-encoder
        (``weighting``, ``loss``, ``hidden_layer_sizes``, ``denoise``, ``epochs``...); LSA is
        fitted on TF-IDF.
        """
        for kind in models:
            check_choices(("model", kind, DOCUMENT_KINDS))
        documents = as_documents(documents)
        indexes = {}
        for kind in models:
            params = dict(
                kind=kind,
                n_components=n_components,
                max_features=max_features,
                random_state=random_state,
                verbose=verbose,
            )
            if kind == "autoencoder":
                params.update(autoencoder)
            model = DocumentModel(**params).fit(
                documents.texts, checkpoint_dir=checkpoint_dir if kind == "autoencoder" else None, resume=resume
            )
            index = Index.build(
                model.transform(documents.texts),
                ids=documents.ids,
                labels=None if documents.labels is None else documents.labels.tolist(),
                metric=default_metric(model),
                kind="auto",
                space="code",
            )
            index.model = model
            index.info = {"model": kind}
            indexes[kind] = index
        return cls(indexes, [first_line(t) for t in documents.texts], info)

    # --- queries -------------------------------------------------------------------------------
    @property
    def models(self) -> dict[str, DocumentModel]:
        return {kind: index.model for kind, index in self.indexes.items()}

    @property
    def code_size(self) -> int:
        return next(iter(self.indexes.values())).dimension

    def index(self, model: str) -> Index:
        if model not in self.indexes:
            raise DataError(f"no {model!r} model here; this search holds {', '.join(self.indexes)}")
        return self.indexes[model]

    def encode(self, texts, model: str = "autoencoder") -> np.ndarray:
        """Codes of ``texts`` under one of the models."""
        return self.index(model).model.transform(texts)

    def search(self, query, k: int = 10, model: str = "autoencoder"):
        """The ``k`` nearest documents of a query text (a :class:`Result`), or of each text in a
        list (a list of results)."""
        single = isinstance(query, str)
        queries = [query] if single else list(query)
        index = self.index(model)
        used, words = index.model.vectorizer_.word_counts(queries)
        if (used == 0).any():
            which = "" if single else f" (query {int(np.argmax(used == 0))})"
            raise DataError(
                f"none of the query's words{which} is in the vocabulary of {len(index.model.vocabulary)} "
                "words learnt from the collection; use words that its documents use"
            )
        found = index.query(index.model.transform(queries), k)
        results = []
        for q, text in enumerate(queries):
            hits = [
                Hit(
                    r + 1,
                    str(found.ids[q][r]),
                    None if found.labels is None else found.labels[q][r],
                    float(found.scores[q][r]),
                    self.first_lines[p],
                )
                for r, p in enumerate(found.positions[q])
                if p >= 0
            ]
            results.append(
                Result(text, model, hits, topic_shares([h.label for h in hits]), int(words[q]), int(used[q]))
            )
        return results[0] if single else results

    def evaluate(self, documents: Documents, ks=RETRIEVAL_KS) -> dict[str, dict]:
        """Retrieval figures of each model (:func:`aelab.search.evaluate`) with ``documents`` (the
        test documents, labelled) as queries against the indexed ones; relevant = same label."""
        if documents.labels is None:
            raise DataError("the query documents have no labels: retrieval is evaluated with labels as relevance")
        return {
            kind: evaluate(index, index.model.transform(documents.texts), documents.labels, ks=ks)
            for kind, index in self.indexes.items()
        }

    def map(self, documents: Documents) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The 2-D codes of ``documents`` under each model (named for a figure), and for labelled
        documents the share of each document's 10 nearest map neighbours that share its label."""
        if self.code_size != 2:
            raise DataError(
                f"this document search has {self.code_size}-D codes; a map needs 2-D codes: train one "
                "with aelab text train ... --n-components 2"
            )
        for kind, index in self.indexes.items():
            used, _ = index.model.vectorizer_.word_counts(documents.texts)
            if not used.any():
                raise DataError(
                    f"none of the {len(documents)} documents uses a word of the {MODEL_NAMES[kind]}'s vocabulary: "
                    "each would be drawn at the same point; map documents like those it was trained on"
                )
        codes = {f"{MODEL_NAMES[kind]} (2-D)": self.encode(documents.texts, kind) for kind in self.indexes}
        shares = (
            {}
            if documents.labels is None
            else {name: neighbour_agreement(Z, documents.labels, 10) for name, Z in codes.items()}
        )
        return codes, shares

    # --- saving --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the folder atomically: an interrupted save leaves the previous one intact."""
        with atomic_path(path, overwrite) as tmp:
            tmp.mkdir()
            for kind, index in self.indexes.items():
                index.save(tmp / kind)
            save_json(tmp / DOCUMENTS_FILE, {"first_lines": self.first_lines})
            save_json(
                tmp / SEARCH_FILE,
                {
                    "format": FORMAT,
                    "format_version": 1,
                    "models": list(self.indexes),
                    "code_size": self.code_size,
                    "count": len(self.first_lines),
                    "info": self.info,
                },
            )
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DocumentSearch:
        path = Path(path)
        meta = read_tagged_folder(
            path, SEARCH_FILE, FORMAT, 1, "document search (from 'aelab text train')", schemas.DOCUMENT_SEARCH
        )
        indexes = {kind: Index.load(folder_file(path, kind)) for kind in meta["models"]}
        for kind, index in indexes.items():
            if not (isinstance(index.model, DocumentModel) and index.model.kind == kind):
                raise ModelError(f"{path} is damaged: its {kind} index does not hold a {MODEL_NAMES[kind]}")
        first_lines = read_json(folder_file(path, DOCUMENTS_FILE), schemas.DOCUMENTS)["first_lines"]
        if any(len(index) != len(first_lines) for index in indexes.values()):
            raise ModelError(f"{path} is damaged: its indexes and {DOCUMENTS_FILE} hold different numbers of documents")
        sizes = {index.dimension for index in indexes.values()}
        if meta.get("count", len(first_lines)) != len(first_lines) or meta.get("code_size", min(sizes)) not in sizes:
            raise ModelError(
                f"{path} is damaged: {SEARCH_FILE} says {meta.get('count')} documents of {meta.get('code_size')}-D "
                f"codes, its indexes hold {len(first_lines)} of {', '.join(map(str, sorted(sizes)))}-D"
            )
        return cls(indexes, first_lines, meta.get("info", {}))


def as_documents(documents) -> Documents:
    """``documents`` as :class:`Documents`: given so, or as a list of texts (numbered from 0, unlabelled)."""
    if isinstance(documents, Documents):
        return documents
    if isinstance(documents, (str, bytes)) or not isinstance(documents, (list, tuple)):
        raise DataError(
            f"documents must be a Documents (aelab.text.load_text(...).train) or a list of texts, not "
            f"{type(documents).__name__}"
        )
    bad = next((t for t in documents if not isinstance(t, str)), None)
    if bad is not None:
        raise DataError(f"documents must be texts (strings); found a {type(bad).__name__}")
    return Documents(list(documents), [str(i) for i in range(len(documents))])


def first_line(text: str) -> str:
    """A document's first non-blank line, shortened for display."""
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= FIRST_LINE_CHARS else line[: FIRST_LINE_CHARS - 3] + "..."


def topic_shares(labels) -> list[tuple[str, float]]:
    """Each label's share of ``labels`` (None ignored), largest first, ties by name."""
    known = [str(v) for v in labels if v is not None]
    counts = Counter(known)
    return sorted(((label, n / len(known)) for label, n in counts.items()), key=lambda t: (-t[1], t[0]))
