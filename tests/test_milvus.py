"""An index whose vectors live in Milvus (Milvus Lite here): the same answers as FAISS, through the
same commands; rebuilt atomically; its folder checked like every folder."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import aelab
from aelab.errors import AelabError
from aelab.jobs import DataOptions, IndexRequest, index
from aelab.search import Index
from aelab.search.milvus import Engine, MilvusIndex

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from conftest import run_cli  # noqa: E402


def _built(out, model, engine=None, **kw):
    return index(IndexRequest(DataOptions("digits"), out=out, model=model, engine=engine, **kw)).index


@pytest.mark.parametrize("model, metric", [("ae", None), ("ae", "l2"), ("ae", "ip"), ("bits", None)])
def test_milvus_lite_finds_the_top_10_of_the_exact_faiss_index(digits_models, tmp_path, model, metric):
    milvus = _built(tmp_path / "milvus", digits_models / model, "milvus://codes.db/digits", metric=metric)
    faiss = _built(tmp_path / "faiss", digits_models / model, metric=metric)
    milvus.close()
    reopened = Index.load(tmp_path / "milvus")  # from its folder, as aelab search opens it
    queries = faiss.encode(aelab.datasets.load("digits").test.X[:50])
    a, b = reopened.query(queries, 10), faiss.query(queries, 10)
    assert reopened.metric == faiss.metric and len(reopened) == len(faiss) == 1437
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
    for q in range(len(queries)):  # the same items, but among ties at the last score (bits tie often)
        nearer = b.scores[q] != b.scores[q][-1]
        assert set(a.positions[q][nearer]) == set(b.positions[q][nearer])
    # every item Milvus returns carries the id and label that FAISS holds at its position
    assert (a.ids == np.asarray(faiss.ids)[a.positions]).all()
    assert (a.labels == np.asarray(faiss.labels)[a.positions]).all()
    np.testing.assert_allclose(reopened.vectors(), faiss.vectors(), atol=1e-6)
    assert reopened.position("train:17") == 17
    reopened.close()


def test_search_evaluate_and_add_work_unchanged_and_a_rebuild_replaces_it(digits_models, tmp_path):
    engine = "milvus://codes.db/digits"
    done = run_cli("index", digits_models / "ae", "--data", "digits", "--out", tmp_path / "idx", "--engine", engine)
    assert done.returncode == 0, done.stderr
    found = run_cli("search", tmp_path / "idx", "--query", "train:5", "-k", "3", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["neighbours"][0]["id"] == "train:5"
    evaluated = run_cli(
        "evaluate-retrieval", "--index", tmp_path / "idx", "--queries", "digits", "--out", tmp_path / "ev"
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["indexes"]["idx (code)"]["map"] > 0.3

    added = run_cli("index", "--add", tmp_path / "idx", "--data", "digits", "--split", "test")
    assert added.returncode == 0, added.stderr
    grown = Index.load(tmp_path / "idx")
    assert len(grown) == 1797 and grown.ids[-1] == "digits/test:359"
    grown.close()

    refused = run_cli("index", digits_models / "ae", "--data", "digits", "--out", tmp_path / "idx", "--engine", engine)
    assert refused.returncode == 1 and "--overwrite" in refused.stderr
    rebuilt = run_cli(
        "index",
        digits_models / "ae",
        "--data",
        "digits",
        "--split",
        "test",
        "--out",
        tmp_path / "idx",
        "--engine",
        engine,
        "--overwrite",
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = Index.load(tmp_path / "idx")
    assert len(again) == 360 and again.ids[0] == "test:0"
    assert again.client.describe_alias("digits")["collection_name"] == again.physical
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind
    again.close()


def test_a_failed_build_leaves_the_previous_index_searchable(digits_models, tmp_path, monkeypatch):
    _built(tmp_path / "idx", digits_models / "ae", "milvus://codes.db/digits").close()
    from aelab.search.milvus import MilvusIndex

    def broken(self, *args, **kw):
        raise AelabError("the disk filled up")

    monkeypatch.setattr(MilvusIndex, "save", broken)
    with pytest.raises(AelabError, match="disk"):
        _built(tmp_path / "idx", digits_models / "ae", "milvus://codes.db/digits", split="test", overwrite=True)
    monkeypatch.undo()
    kept = Index.load(tmp_path / "idx")
    assert len(kept) == 1437 and kept.query(kept.vector(3), 1).ids[0][0] == "train:3"
    kept.close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    "url, says",
    [
        ("milvus:/codes.db/x", "--engine must be"),
        ("milvus://codes.db/9lives", "--engine must be"),
        ("milvus://../elsewhere/codes.db/x", "a name inside the index folder"),
        ("milvus://bad host:19530/x", "HOST or HOST:PORT"),
        ("milvus://localhost:99999/x", "HOST or HOST:PORT"),
    ],
)
def test_a_malformed_engine_url_is_one_line(url, says):
    with pytest.raises(AelabError, match=says):
        Engine.parse(url)


def test_unreachable_servers_and_tampered_folders_are_one_line(digits_models, tmp_path):
    unreachable = run_cli(
        "index",
        digits_models / "ae",
        "--data",
        "digits",
        "--out",
        tmp_path / "x",
        "--engine",
        "milvus://127.0.0.1:9/digits",
    )
    assert unreachable.returncode == 1 and "cannot reach Milvus at 127.0.0.1:9" in unreachable.stderr
    assert len(unreachable.stderr.splitlines()) == 1 and not (tmp_path / "x").exists()

    _built(tmp_path / "idx", digits_models / "ae", "milvus://codes.db/digits").close()
    meta_file = tmp_path / "idx" / "index.json"
    meta = json.loads(meta_file.read_text())
    for change, says in [
        ({"dimension": 7}, "holds 6-D vectors by L2"),  # the model's codes keep neighbours: Euclidean search
        ({"metric": "cosine"}, "by L2, but"),
        ({"count": 5}, "holds 1437 rows"),
        ({"engine": dict(meta["engine"], lite="../../elsewhere.db")}, "index.json"),
        ({"engine": dict(meta["engine"], physical="digits_gone")}, "no collection digits_gone"),
    ]:
        meta_file.write_text(json.dumps(dict(meta, **change)))
        refused = run_cli("search", tmp_path / "idx", "--query", "train:0")
        assert refused.returncode == 1 and says in refused.stderr and len(refused.stderr.splitlines()) == 1, change
    meta_file.write_text(json.dumps(meta))
    shutil.rmtree(tmp_path / "idx" / "codes.db")
    missing = run_cli("search", tmp_path / "idx", "--query", "train:0")
    assert missing.returncode == 1 and "codes.db is missing" in missing.stderr


def test_without_the_milvus_extra_the_command_names_it(digits_models, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['pymilvus'] = None; from aelab.cli import main; "
        f"sys.exit(main(['index', {str(digits_models / 'ae')!r}, '--data', 'digits', '--out', {str(tmp_path / 'x')!r}, "
        "'--engine', 'milvus://codes.db/digits']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.strip().endswith("pip install 'aelab[milvus]'")
    assert len(done.stderr.splitlines()) == 1 and not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_server_rebuild_moves_the_alias_and_drops_the_old_collection(digits_models, tmp_path):
    """What a rebuild on a server does once its folder is written, tried on one Milvus Lite database:
    the alias moves to the new collection, and the one it named before is dropped."""
    first = _built(tmp_path / "idx", digits_models / "ae", "milvus://codes.db/digits")
    client, old = first.client, first.physical
    assert client.describe_alias("digits")["collection_name"] == old
    second = MilvusIndex(first.engine, "cosine", "exact", "code")
    second.client, second.physical = client, "digits_rebuilt"
    second.add(np.eye(6, dtype=np.float32), labels=list(range(6)))
    second._point_alias(previous=old)
    assert client.describe_alias("digits")["collection_name"] == "digits_rebuilt"
    assert not client.has_collection(old)
    assert [h["pk"] for h in client.search("digits", data=[[0, 0, 1.0, 0, 0, 0]], limit=1, anns_field="vec")[0]] == [2]
    first.close()


def test_a_lite_database_open_in_another_process_is_one_line(digits_models, tmp_path):
    import subprocess
    import sys

    _built(tmp_path / "idx", digits_models / "ae", "milvus://codes.db/digits").close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from aelab.search import Index; Index.load({str(tmp_path / 'idx')!r}); input()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):  # until it holds the database
            refused = run_cli("search", tmp_path / "idx", "--query", "train:0")
            if refused.returncode:
                break
        assert refused.returncode == 1 and "is another process using it?" in refused.stderr
        assert len(refused.stderr.splitlines()) == 1
    finally:
        holder.communicate("\n", timeout=30)


def test_a_repeated_item_id_is_refused_as_faiss_refuses_it(tmp_path):
    V = np.random.default_rng(0).random((4, 8), dtype=np.float32)
    engine = Engine.parse("milvus://codes.db/ids")
    built = MilvusIndex.create(engine, tmp_path / "idx", "cosine", "exact", "code")
    try:
        with pytest.raises(AelabError, match="'a' is given twice"):
            built.add(V[:3], ids=["a", "b", "a"])
        built.add(V[:2], ids=["a", "b"])
        with pytest.raises(AelabError, match="'b' is given twice"):  # across batches, as a table is added
            built.add(V[2:], ids=["c", "b"])
        built.add(V[2:], ids=["c", "d"])
        built.save(tmp_path / "idx")
    finally:
        built.close()
    reopened = Index.load(tmp_path / "idx")  # and against the items of an index opened to add to
    try:
        with pytest.raises(AelabError, match="'c' is given twice"):
            reopened.add(V[:1], ids=["c"])
        assert reopened.ids == ["a", "b", "c", "d"]
    finally:
        reopened.close()
