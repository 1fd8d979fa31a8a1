"""Codes as Parquet: written by aelab encode, read back by pyarrow and pandas, indexed by aelab index --from."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import aelab
from aelab.jobs import DataOptions, EncodeRequest, IndexRequest, encode, index

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pd = pytest.importorskip("pandas")

from conftest import run_cli  # noqa: E402


def test_codes_table_reads_back_in_pyarrow_and_pandas(digits_models, tmp_path):
    result = encode(
        EncodeRequest(digits_models / "ae", DataOptions("digits"), tmp_path / "codes.parquet", batch_size=500)
    )
    ds = aelab.datasets.load("digits")
    expected = aelab.load(digits_models / "ae").transform(ds.test.X)
    table = pq.read_table(tmp_path / "codes.parquet")
    assert table.schema.field("code").type == pa.list_(pa.float32(), 6)
    assert pq.ParquetFile(tmp_path / "codes.parquet").metadata.num_row_groups == 1  # 360 rows: one batch
    np.testing.assert_array_equal(np.stack(table.column("code").to_pylist()), expected)
    frame = pd.read_parquet(tmp_path / "codes.parquet")
    assert frame["id"].tolist()[:2] == ["test:0", "test:1"] and frame["label"].tolist() == ds.test.y.tolist()
    assert result.n == len(frame) == len(ds.test.X)
    # an index from the table searches as one from the data: the model's metric, else the table's kind's
    with_model = index(
        IndexRequest(None, out=tmp_path / "m", model=digits_models / "ae", codes=tmp_path / "codes.parquet")
    )
    alone = index(IndexRequest(None, out=tmp_path / "a", codes=tmp_path / "codes.parquet"))
    assert (with_model.index.metric, alone.index.metric) == ("l2", "cosine")


def test_bits_are_packed_bytes_and_index_from_the_table_as_from_the_data(digits_models, tmp_path):
    encode(EncodeRequest(digits_models / "bits", DataOptions("digits"), tmp_path / "bits.parquet", split="train"))
    table = pq.read_table(tmp_path / "bits.parquet")
    assert table.schema.field("code").type == pa.binary(2)
    bits = aelab.load(digits_models / "bits").transform(aelab.datasets.load("digits").train.X)
    assert table.column("code")[0].as_py() == np.packbits(bits[0].astype(bool)).tobytes()

    from_table = index(
        IndexRequest(None, out=tmp_path / "from-table", model=digits_models / "bits", codes=tmp_path / "bits.parquet")
    )
    from_data = index(IndexRequest(DataOptions("digits"), out=tmp_path / "from-data", model=digits_models / "bits"))
    assert from_table.index.metric == "hamming" and from_table.index.ids == from_data.index.ids
    alone = index(IndexRequest(None, out=tmp_path / "alone", codes=tmp_path / "bits.parquet"))
    assert alone.index.metric == "hamming"
    queries = from_data.index.encode(aelab.datasets.load("digits").test.X[:20])
    a, b = from_table.index.query(queries, 10), from_data.index.query(queries, 10)
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.labels.tolist() == b.labels.tolist()


def test_streamed_folder_keeps_paths_and_refusals_are_one_line(digits_models, tmp_path):
    folder = tmp_path / "shapes"
    rng = np.random.default_rng(0)
    for label in ("round", "square"):
        (folder / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / label / f"{i}.png")
    done = run_cli("encode", digits_models / "ae", "--data", folder, "--stream", "--out", tmp_path / "shapes.parquet")
    assert done.returncode == 0, done.stderr
    frame = pd.read_parquet(tmp_path / "shapes.parquet")
    assert frame["id"].tolist() == [f"row:{i}" for i in range(6)]
    assert frame["label"].tolist() == ["round"] * 3 + ["square"] * 3
    assert frame["path"].str.endswith(".png").all()

    pq.write_table(pa.table({"id": ["a"], "vector": [[0.0, 1.0]]}), tmp_path / "other.parquet")
    for args, says in [
        (("index", "--from", tmp_path / "other.parquet", "--out", tmp_path / "x"), "has no column 'code'"),
        (
            (
                "index",
                digits_models / "ae",
                "--from",
                tmp_path / "shapes.parquet",
                "--space",
                "pca",
                "--out",
                tmp_path / "x",
            ),
            "--from",
        ),
        (
            ("index", digits_models / "bits", "--from", tmp_path / "shapes.parquet", "--out", tmp_path / "x"),
            "16-D binary",
        ),
        (("encode", digits_models / "ae", "--data", folder, "--stream", "--out", tmp_path / "c.npy"), "FILE.parquet"),
    ]:
        refused = run_cli(*args)
        assert refused.returncode == 1 and says in refused.stderr and len(refused.stderr.splitlines()) == 1, args
    assert not (tmp_path / "x").exists() and not (tmp_path / "c.npy").exists()


def test_a_table_indexes_without_a_model_and_its_bad_rows_are_one_line(tmp_path):
    """Without a model the items are found by their ids; a row without an id, an id twice or a code
    that is not a number is refused in one line, and nothing is written."""
    codes = np.random.default_rng(0).random((50, 4), dtype=np.float32)
    flat = pa.array(codes.ravel(), pa.float32())
    table = pa.table({"id": [f"doc{i}" for i in range(50)], "code": pa.FixedSizeListArray.from_arrays(flat, 4)})
    pq.write_table(table, tmp_path / "codes.parquet")
    done = run_cli("index", "--from", tmp_path / "codes.parquet", "--out", tmp_path / "idx")
    assert done.returncode == 0, done.stderr
    found = run_cli("search", tmp_path / "idx", "--query", "doc7", "-k", "2", "--json")
    assert found.returncode == 0, found.stderr
    assert [n["id"] for n in __import__("json").loads(found.stdout)["neighbours"]][0] == "doc7"

    two = pa.FixedSizeListArray.from_arrays(pa.array([0.0, 1.0, 1.0, 0.0], pa.float32()), 2)
    nan = pa.FixedSizeListArray.from_arrays(pa.array([0.0, float("nan"), 1.0, 0.0], pa.float32()), 2)
    for name, columns, says in [
        ("null-id", {"id": pa.array([None, "b"], pa.string()), "code": two}, "without an id"),
        ("same-id", {"id": ["a", "a"], "code": two}, "given twice"),
        ("nan-code", {"id": ["a", "b"], "code": nan}, "NaN"),
    ]:
        pq.write_table(pa.table(columns), tmp_path / f"{name}.parquet")
        refused = run_cli("index", "--from", tmp_path / f"{name}.parquet", "--out", tmp_path / name)
        assert refused.returncode == 1 and says in refused.stderr and len(refused.stderr.splitlines()) == 1, name
        assert not (tmp_path / name).exists()


def test_labels_of_another_kind_in_a_later_batch_are_one_line_and_nothing_is_written(tmp_path):
    from aelab.errors import DataError
    from aelab.search.parquet import CodeBatch, CodesFile, write_codes

    codes = np.zeros((2, 3), np.float32)
    numbers_then_text = [CodeBatch(codes, ["a", "b"], [1, 2], None), CodeBatch(codes, ["c", "d"], ["cat", "dog"], None)]
    with pytest.raises(DataError, match="'cat'.*class numbers"):
        write_codes(tmp_path / "mixed.parquet", numbers_then_text, binary=False, about={})
    assert not list(tmp_path.iterdir())
    # text first, numbers later: the numbers are kept as text
    text_then_numbers = [CodeBatch(codes, ["a", "b"], ["cat", "dog"], None), CodeBatch(codes, ["c", "d"], [1, 2], None)]
    write_codes(tmp_path / "text.parquet", text_then_numbers, binary=False, about={})
    labels = [label for batch in CodesFile.open(tmp_path / "text.parquet").batches() for label in batch.labels]
    assert labels == ["cat", "dog", "1", "2"]
