"""An index whose vectors live in Milvus, for collections past one machine: ``aelab index ...
--engine milvus://HOST[:PORT]/COLLECTION`` (a Milvus standalone or distributed cluster), or
``milvus://NAME.db/COLLECTION`` (Milvus Lite, embedded, its database a folder ``NAME.db`` inside
the index folder).

The index folder holds what FAISS's does but the vectors: the metric, the model that encodes
queries, the collection's settings, and where the collection is. Each item is a row of the
collection: its position (the primary key), id, label (as JSON), source path and vector. Queries are
encoded by aelab and searched by Milvus, so ``aelab search``, ``evaluate-retrieval`` and ``serve``
work on such a folder unchanged.

A build writes a new physical collection (``COLLECTION_<random>``); once it is complete, the index
folder is written atomically pointing at it, and then the alias ``COLLECTION`` (what other clients
query) moves to it and the collection it named before is dropped. A killed build leaves the
previous folder and collection searchable. ``--add`` appends rows to the folder's collection.

Metrics: cosine and ip as Milvus's COSINE and IP (greater is nearer), l2 as L2 (Milvus gives
squared distances; aelab reports the distance); binary codes as vectors of 0s and 1s under L2,
whose squared distance is the number of differing bits (Milvus Lite stores no binary vectors).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, ModelError, ParameterError, require
from ..storage import atomic_path, folder_file, json_value, save_json
from .index import ENGINES, INDEX_FORMAT, META_FILE, MODEL_DIR, Index, Neighbours, check_labelled, check_new_ids

SCHEME = "milvus://"
DEFAULT_PORT = 19530
INSERT_ROWS = 5_000  # rows per insert call: well under Milvus's 64 MB message limit for codes
QUERY_ROWS = 1_000  # query vectors per search call
MAX_ID, MAX_LABEL, MAX_PATH = 512, 1024, 4096  # VARCHAR lengths of the item fields
_COLLECTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")
_LITE_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}\.db")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,250}[A-Za-z0-9])?")
_METRICS = {"cosine": "COSINE", "ip": "IP", "l2": "L2", "hamming": "L2"}
_KINDS = {  # aelab's index kinds as Milvus index types and build parameters
    "auto": ("AUTOINDEX", {}),
    "exact": ("FLAT", {}),
    "hnsw": ("HNSW", {"M": 32, "efConstruction": 200}),
    "ivf": ("IVF_FLAT", {"nlist": 1024}),
    "ivfpq": ("IVF_PQ", {"nlist": 1024, "nbits": 8}),
}


@dataclass(frozen=True)
class Engine:
    """Where an index's vectors live: a Milvus server (``uri``) or a Milvus Lite database (``lite``,
    a folder name inside the index folder), and the ``collection`` (alias) that the index names."""

    collection: str
    uri: str | None = None
    lite: str | None = None

    @classmethod
    def parse(cls, url: str) -> Engine:
        """``milvus://HOST[:PORT]/COLLECTION`` or ``milvus://NAME.db/COLLECTION``, or one line saying
        what is wrong."""
        text = str(url)
        where, _, collection = text[len(SCHEME) :].rpartition("/") if text.startswith(SCHEME) else ("", "", "")
        if not where or not _COLLECTION.fullmatch(collection or ""):
            raise ParameterError(
                f"--engine must be milvus://HOST[:PORT]/COLLECTION or milvus://NAME.db/COLLECTION (a collection name "
                f"of letters, digits and _, not starting with a digit), not {text[:200]!r}"
            )
        if where.endswith(".db"):
            if not _LITE_FILE.fullmatch(where):
                raise ParameterError(
                    f"a Milvus Lite database is a name inside the index folder (like codes.db), not a path: {where!r}"
                )
            return cls(collection, lite=where)
        host, _, port = where.partition(":")
        if not _HOST.fullmatch(host) or (port and not (port.isdigit() and 0 < int(port) < 65536)):
            raise ParameterError(f"--engine names the Milvus server {where!r}; give HOST or HOST:PORT")
        return cls(collection, uri=f"http://{host}:{int(port or DEFAULT_PORT)}")

    def describe(self) -> str:
        return f"Milvus Lite {self.lite}" if self.lite else f"Milvus at {self.uri.removeprefix('http://')}"


def _pymilvus(engine: Engine):
    """pymilvus (and Milvus Lite, for a Lite engine), or one line naming the extra to install."""
    pymilvus = require("pymilvus", "milvus")
    if engine.lite:
        require("milvus_lite", "milvus")
    # their notes and their own reports of the errors that aelab tells in one line are not the user's
    for name in ("pymilvus", "grpc._server", "milvus_lite"):  # Milvus Lite's server runs in this process
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    return pymilvus


def _client(engine: Engine, folder: Path | None):
    """A connected MilvusClient, or one line saying why not."""
    pymilvus = _pymilvus(engine)
    uri = str(folder / engine.lite) if engine.lite else engine.uri
    try:
        return pymilvus.MilvusClient(uri, timeout=10)
    except pymilvus.MilvusException as exc:
        if engine.lite:  # what fails to open a local database is, most often, its lock held by another process
            raise DataError(
                f"cannot open Milvus Lite {engine.lite} in {folder}: is another process using it? (Milvus Lite lets "
                "one process at a time open a database: stop that one, an aelab serve of it say, and run again)"
            ) from None
        raise DataError(f"cannot reach {engine.describe()}: {_reason(exc)}") from None


def _reason(exc) -> str:
    return " ".join(str(getattr(exc, "message", exc)).split())[:200]


def _release_lite(path: Path) -> None:
    """Stop this process's Milvus Lite server of the database ``path`` (it holds the folder locked)."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(path))


class MilvusIndex(Index):
    """An :class:`aelab.search.Index` whose vectors and items are rows of a Milvus collection (see the
    module docstring). Build it with :meth:`create` and ``add``; ``save`` writes the index folder."""

    def __init__(self, engine: Engine, metric: str = "cosine", kind: str = "auto", space: str = "code"):
        super().__init__(metric=metric, kind="exact" if engine.lite and kind == "auto" else kind, space=space)
        if kind not in _KINDS:
            raise ParameterError(f"a Milvus index takes --kind {', '.join(_KINDS)}, not {kind!r}")
        self.engine, self.kind_ = engine, self.kind
        self.physical: str | None = None  # the collection the rows are in (the alias moves to it once saved)
        self.count, self.width, self.labelled = 0, 0, None
        self._staging: Path | None = None  # a new Lite database, built beside the folder it will move into
        self._folder: Path | None = None
        self.client = None
        self._items = None
        self._known_ids: set[str] | None = None

    @classmethod
    def create(cls, engine: Engine, out, metric: str, kind: str, space: str, overwrite: bool = False) -> MilvusIndex:
        """A new, empty index for the folder ``out`` (written by ``save``). On a server whose
        collection name is taken (by another index), only ``overwrite`` lets this build replace it."""
        index = cls(engine, metric, kind, space)
        out = Path(out)
        if engine.lite:
            _pymilvus(engine)  # the extra checked before anything is made on disk
            out.parent.mkdir(parents=True, exist_ok=True)
            index._staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".milvus", dir=out.parent))
            try:
                index.client = _client(engine, index._staging)
            except BaseException:
                shutil.rmtree(index._staging, ignore_errors=True)
                raise
        else:
            index.client = _client(engine, None)
            taken = index.client.has_collection(engine.collection) or engine.collection in _aliases(index.client)
            if taken and not overwrite:
                raise DataError(
                    f"{engine.describe()} already has a collection {engine.collection}; pass --overwrite to replace "
                    "it (the new one takes its name once complete), or name another"
                )
        index.physical = f"{engine.collection}_{secrets.token_hex(4)}"
        return index

    # --- building ------------------------------------------------------------------------------
    def add(self, vectors, ids=None, paths=None, labels=None) -> MilvusIndex:
        V = self.prepared(vectors)
        n = len(V)
        if n == 0 or V.shape[1] == 0:
            raise DataError(f"nothing to add: the vectors are empty (shape {V.shape})")
        ids, paths = self._item_fields(n, self.count, ids, paths, labels)
        if self._known_ids is None:  # the collection's ids, read once, then kept as items are added
            self._known_ids = set(self.ids) if self.count else set()
        check_new_ids(ids, self._known_ids)
        check_labelled(self.labelled, labels)
        self.labelled = labels is not None
        if self.count == 0 and not self.width:
            self._check_directions(V, "vector of the index")
            self.width = V.shape[1]
            self._make_collection()
        elif V.shape[1] != self.width:
            raise DataError(f"vectors have {V.shape[1]} dimensions but the index holds {self.width}-D vectors")
        for name, values, most in (("id", ids, MAX_ID), ("path", paths, MAX_PATH)):
            long = next((v for v in values if v is not None and len(v.encode()) > most), None)
            if long is not None:
                raise DataError(f"an item's {name} is longer than Milvus keeps ({most} bytes): {long[:80]!r}...")
        rows = [
            {
                "pk": self.count + i,
                "item": ids[i],
                "label": json.dumps(None if labels is None else json_value(labels[i]))[:MAX_LABEL],
                "path": paths[i] or "",
                "vec": V[i].tolist(),
            }
            for i in range(n)
        ]
        for start in range(0, n, INSERT_ROWS):
            self._call(self.client.insert, self.physical, rows[start : start + INSERT_ROWS])
        self.count += n
        self._items = None
        self._known_ids.update(ids)
        return self

    def _make_collection(self) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.INT64, is_primary=True)
        schema.add_field("item", DataType.VARCHAR, max_length=MAX_ID)
        schema.add_field("label", DataType.VARCHAR, max_length=MAX_LABEL)
        schema.add_field("path", DataType.VARCHAR, max_length=MAX_PATH)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=self.width)
        params = self.client.prepare_index_params()
        index_type, build = _KINDS[self.kind]
        if index_type == "IVF_PQ":
            build = dict(build, m=max(g for g in range(1, max(1, self.width // 3) + 1) if self.width % g == 0))
        params.add_index("vec", index_type=index_type, metric_type=_METRICS[self.metric], params=build)
        self._call(self.client.create_collection, self.physical, schema=schema, index_params=params)

    def _call(self, fn, *args, **kw):
        """A Milvus call whose errors become one line."""
        from pymilvus import MilvusException

        try:
            return fn(*args, **kw)
        except MilvusException as exc:
            raise DataError(f"{self.engine.describe()} refused the request: {_reason(exc)}") from None

    # --- saving --------------------------------------------------------------------------------
    def save(self, path, overwrite: bool = False) -> Path:
        """Write the index folder (see the module docstring for the order that keeps a killed build
        harmless); an index that was loaded and added to has its header rewritten in place."""
        if not self.count:
            raise DataError("nothing to save: the index is empty")
        self._call(self.client.flush, self.physical)
        path = Path(path)
        if self._folder is not None:  # added to: the rows are in; the header says how many
            with atomic_path(self._folder / META_FILE, overwrite=True) as tmp:
                save_json(tmp, self._meta())
            return path
        previous = None if self.engine.lite else _aliases(self.client).get(self.engine.collection)
        with atomic_path(path, overwrite) as tmp:
            tmp.mkdir()
            if self.engine.lite:
                self.client.close()
                _release_lite(self._staging / self.engine.lite)
                shutil.move(str(self._staging / self.engine.lite), str(tmp / self.engine.lite))
            save_json(tmp / META_FILE, self._meta())
            if self.model is not None:
                self.model.save(tmp / MODEL_DIR)
        if self.engine.lite:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging, self.client = None, _client(self.engine, path)
            self._call(self.client.load_collection, self.physical)
        self._folder = path
        self._point_alias(previous)
        return path

    def _point_alias(self, previous: str | None) -> None:
        """Move the alias to this build's collection, then drop the one it named before."""
        name = self.engine.collection
        if previous is not None:
            self._call(self.client.alter_alias, self.physical, name)
            if previous != self.physical:
                self._call(self.client.drop_collection, previous)
        else:
            if self.client.has_collection(name):  # a plain collection of that name: replaced (--overwrite)
                self._call(self.client.drop_collection, name)
            self._call(self.client.create_alias, self.physical, name)

    def _meta(self) -> dict:
        return {
            "format": INDEX_FORMAT,
            "format_version": 1,
            "metric": self.metric,
            "kind": self.kind,
            "built_as": self.kind,
            "space": self.space,
            "count": self.count,
            "dimension": self.width,
            "labelled": bool(self.labelled),
            "engine": {
                "kind": "milvus",
                "uri": self.engine.uri,
                "lite": self.engine.lite,
                "collection": self.engine.collection,
                "physical": self.physical,
            },
            "info": self.info,
        }

    @classmethod
    def open(cls, path: Path, meta: dict) -> MilvusIndex:
        """The index of the folder ``path`` whose checked header ``meta`` names a Milvus collection;
        the collection must hold what the header says (its size, dimension and metric)."""
        found = meta["engine"]
        engine = Engine(found["collection"], uri=found.get("uri"), lite=found.get("lite"))
        if engine.lite:
            folder_file(path, engine.lite)  # inside the folder, not a link out of it
            if not (path / engine.lite).is_dir():
                raise ModelError(f"{path} is damaged: its Milvus Lite database {engine.lite} is missing")
        index = cls(engine, meta["metric"], meta["kind"], meta["space"])
        index.physical, index.count, index.width = found["physical"], meta["count"], meta["dimension"]
        index.labelled, index._folder = meta.get("labelled", False), path
        index.client = _client(engine, path)
        if not index.client.has_collection(index.physical):
            raise DataError(f"{engine.describe()} has no collection {index.physical}, which {path} names")
        if "NotLoad" in str(index._call(index.client.get_load_state, index.physical).get("state")):
            index._call(index.client.load_collection, index.physical)  # loaded as it is, replicas and all, else
        described = index._call(index.client.describe_collection, index.physical)
        vec = next((f for f in described["fields"] if f["name"] == "vec"), None)
        dim = None if vec is None else int(vec.get("params", {}).get("dim", 0))
        metric = index._call(index.client.describe_index, index.physical, "vec").get("metric_type")
        rows = index._call(index.client.get_collection_stats, index.physical).get("row_count")
        if dim != index.width or metric != _METRICS[index.metric]:
            raise DataError(
                f"the collection {index.physical} holds {dim}-D vectors by {metric}, but {path} says {index.width}-D "
                f"by {_METRICS[index.metric]}"
            )
        if int(rows) != index.count:
            raise DataError(
                f"the collection {index.physical} holds {rows} rows, but {path} says {index.count}; was it changed "
                "by another client? build the index again"
            )
        return index

    def abandon(self) -> None:
        """Undo a build that did not finish: its new collection dropped, its staging database removed
        (an index that was loaded keeps its rows: ``--add`` appends in place)."""
        if self._folder is not None or self.client is None:
            return
        with contextlib.suppress(Exception):
            if self.client.has_collection(self.physical):
                self.client.drop_collection(self.physical)
        if self._staging is not None:
            with contextlib.suppress(Exception):
                self.client.close()
                _release_lite(self._staging / self.engine.lite)
            shutil.rmtree(self._staging, ignore_errors=True)
        self.client = None

    def close(self) -> None:
        """Let go of the collection (a Milvus Lite database is unlocked for other processes)."""
        if self.client is not None:
            self.client.close()
            if self.engine.lite and self._folder is not None:
                _release_lite(self._folder / self.engine.lite)
            self.client = None

    # --- searching -----------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return int(self.width)

    def __len__(self) -> int:
        return int(self.count)

    def prepared(self, vectors) -> np.ndarray:
        """Vectors as the collection holds them: float32 rows, normalised for cosine; binary codes
        stay rows of 0s and 1s (Milvus Lite keeps no binary vectors; see the module docstring)."""
        if self.metric == "hamming":
            return self.checked_rows(vectors)
        return super().prepared(vectors)

    def _width(self, V: np.ndarray) -> int:
        return V.shape[1]  # bits are not packed here

    def _nearest(self, V: np.ndarray, k: int) -> Neighbours:
        """The ``k`` nearest rows of the collection, with their items, as Milvus returns them (L2 as
        squared distances)."""
        shape = (len(V), k)
        scores, positions = np.full(shape, np.nan, np.float32), np.full(shape, -1, np.int64)
        ids, labels, paths = np.full(shape, "", object), np.full(shape, None, object), np.full(shape, None, object)
        for start in range(0, len(V), QUERY_ROWS):
            hits = self._call(
                self.client.search,
                self.physical,
                data=V[start : start + QUERY_ROWS].tolist(),
                limit=k,
                anns_field="vec",
                output_fields=["item", "label", "path"],
                search_params={"metric_type": _METRICS[self.metric], "params": self._search_params(k)},
            )
            for q, row in enumerate(hits, start):
                for r, hit in enumerate(row[:k]):
                    entity = hit["entity"]
                    scores[q, r], positions[q, r] = hit["distance"], hit["pk"]
                    ids[q, r], paths[q, r] = entity["item"], entity["path"] or None
                    labels[q, r] = json.loads(entity["label"])
        return Neighbours(scores, positions, ids, labels if self.labelled else None, paths)

    def _search_params(self, k: int) -> dict:
        """How wide an approximate search looks: HNSW's ef (the index's ``ef_search``, at least k), an
        IVF index's cells (``n_probe``, else 64)."""
        if self.kind == "hnsw":
            return {"ef": max(int(self.ef_search), k)}
        if self.kind in ("ivf", "ivfpq"):
            return {"nprobe": int(self.n_probe or 64)}
        return {}

    def _all_items(self):
        """Every row's id, label and path in position order (read from the collection once)."""
        if self._items is None:
            rows = self._rows(["item", "label", "path"])
            self._items = (
                [r["item"] for r in rows],
                [json.loads(r["label"]) for r in rows] if self.labelled else None,
                [r["path"] or None for r in rows],
            )
        return self._items

    def _rows(self, fields: list[str]) -> list[dict]:
        found = []
        iterator = self._call(self.client.query_iterator, self.physical, batch_size=10_000, output_fields=fields)
        with contextlib.closing(iterator):
            while batch := iterator.next():
                found.extend(batch)
        found.sort(key=lambda r: r["pk"])
        if [r["pk"] for r in found[:1]] + [r["pk"] for r in found[-1:]] != ([0, self.count - 1] if found else []):
            raise DataError(f"the collection {self.physical} does not hold positions 0 to {self.count - 1}")
        return found

    ids = property(lambda self: self._all_items()[0], lambda self, value: None)
    labels = property(lambda self: self._all_items()[1], lambda self, value: None)
    paths = property(lambda self: self._all_items()[2], lambda self, value: None)

    def position(self, item_id: str) -> int:
        found = self._call(
            self.client.query, self.physical, filter=f"item == {json.dumps(str(item_id))}", output_fields=["pk"]
        )
        if not found:
            raise DataError(f"no item with id {item_id!r} in the index ({len(self)} items)")
        return int(found[0]["pk"])

    def vector(self, position: int) -> np.ndarray:
        found = self._call(self.client.get, self.physical, ids=[int(position)], output_fields=["vec"])
        return np.asarray([found[0]["vec"]], np.float32)

    def vectors(self) -> np.ndarray:
        return np.asarray([r["vec"] for r in self._rows(["vec"])], np.float32).reshape(-1, self.dimension)

    def memory_bytes(self) -> int:
        """The vectors' own bytes (float32): what Milvus holds in memory for a FLAT index, less than
        for a graph; the server's own overhead is not known here."""
        return 4 * self.count * self.dimension


def _aliases(client) -> dict[str, str]:
    """Every alias of the server and the collection it names."""
    found = {}
    for name in client.list_collections():
        for alias in client.list_aliases(collection_name=name).get("aliases", []):
            found[alias] = name
    return found


def new_index(engine_url: str, out, *, metric: str, kind: str, space: str, overwrite: bool = False) -> MilvusIndex:
    """An empty Milvus index for ``aelab index --engine URL --out OUT`` (see :meth:`MilvusIndex.create`)."""
    return MilvusIndex.create(Engine.parse(engine_url), out, metric, kind, space, overwrite)


ENGINES["milvus"] = MilvusIndex.open
