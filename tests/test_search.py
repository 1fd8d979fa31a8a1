import json
import os

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

import aelab
from aelab.cli import main
from aelab.errors import DataError, ModelError
from aelab.search import Index
from conftest import assert_drawn


@pytest.fixture(scope="module")
def vectors():
    return np.random.default_rng(0).normal(size=(2000, 16)).astype(np.float32)


def test_exact_search_matches_brute_force_for_every_metric(vectors):
    queries = vectors[:20] + 0.1
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q_unit = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    expected = {
        "cosine": np.argsort(-(q_unit @ unit.T), axis=1)[:, :5],
        "ip": np.argsort(-(queries @ vectors.T), axis=1)[:, :5],
    }
    for metric in ("cosine", "ip"):
        found = Index.build(vectors, metric=metric, kind="exact").query(queries, k=5)
        np.testing.assert_array_equal(found.positions, expected[metric])
    found = Index.build(vectors, metric="l2", kind="exact").query(queries, k=5)
    distances, positions = NearestNeighbors(n_neighbors=5).fit(vectors).kneighbors(queries)
    np.testing.assert_array_equal(found.positions, positions)
    np.testing.assert_allclose(found.scores, distances, rtol=1e-4)


@pytest.fixture(scope="module")
def clustered():
    """20,000 vectors around 50 centres: the kind of collection an IVF index is built for."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(50, 16)) * 4
    return (centres[rng.integers(0, 50, 20000)] + rng.normal(size=(20000, 16))).astype(np.float32)


def _recall(approx, exact) -> float:
    return float(np.mean([len(set(a) & set(e)) / exact.shape[1] for a, e in zip(approx, exact)]))


def test_hnsw_search_recalls_most_exact_neighbours(vectors):
    exact = Index.build(vectors, kind="exact").query(vectors[:200], k=10).positions
    approx = Index.build(vectors, kind="hnsw").query(vectors[:200], k=10).positions
    assert _recall(approx, exact) >= 0.9


def test_ivf_search_is_approximate_and_recalls_most_exact_neighbours(clustered):
    queries = clustered[:300] + 0.05
    exact = Index.build(clustered, kind="exact", metric="l2").query(queries, k=10).positions
    index = Index.build(clustered, kind="ivf", metric="l2", n_probe=8)
    ivf = index.faiss_index
    assert ivf.nlist == 512 and ivf.nprobe == 8  # 8 of 512 cells visited: not an exhaustive search
    assert _recall(index.query(queries, k=10).positions, exact) >= 0.9
    ivf.nprobe = 1  # fewer cells, fewer true neighbours: the probes decide what is found
    assert _recall(index.query(queries, k=10).positions, exact) < 0.9


def test_id_queries_work_on_every_index_kind(vectors, clustered, tmp_path):
    for kind, data in (("exact", vectors), ("hnsw", vectors), ("ivf", clustered)):
        index = Index.build(data, kind=kind, metric="l2")
        np.testing.assert_allclose(index.vector(index.position("7")), data[7:8], rtol=1e-5)
        index.add(data[:3] + 1, ids=["a", "b", "c"])  # added items are found by id too
        np.testing.assert_allclose(index.vector(index.position("b")), data[1:2] + 1, rtol=1e-5)
        index.save(tmp_path / kind)
        back = Index.load(tmp_path / kind)
        np.testing.assert_allclose(back.vector(back.position("7")), data[7:8], rtol=1e-5)
        with pytest.raises(ModelError, match="FAISS index refused"):  # a FAISS error is one line
            back.vector(10**9)


def test_cli_id_query_on_an_ivf_index(digits_model, tmp_path, capsys):
    index = tmp_path / "ivf"
    assert main(["index", str(digits_model), "--data", "digits", "--kind", "ivf", "--out", str(index)]) == 0
    assert "ivf search" in capsys.readouterr().out
    assert main(["search", str(index), "--query", "train:7", "-k", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["neighbours"][0]["id"] == "train:7"


def test_add_ids_labels_and_their_errors(vectors):
    index = Index.build(vectors[:10], labels=list(range(10)))
    index.add(vectors[10:15], ids=[f"x{i}" for i in range(5)], labels=[7] * 5)
    assert len(index) == 15 and index.ids[:2] == ["0", "1"] and index.position("x3") == 13
    found = index.query(vectors[12:13], k=1)
    assert found.ids.tolist() == [["x2"]] and found.labels.tolist() == [[7]]
    with pytest.raises(DataError, match="dimensions"):
        index.add(np.ones((2, 3), np.float32), labels=[0, 0])
    with pytest.raises(DataError, match="give labels"):
        index.add(vectors[:2])
    with pytest.raises(DataError, match="no item with id 'nope'"):
        index.position("nope")
    with pytest.raises(DataError, match="NaN"):
        index.query(np.full((1, 16), np.nan, np.float32))


def test_saved_index_answers_the_same_and_damage_is_reported(vectors, tmp_path):
    index = Index.build(vectors, kind="hnsw", metric="l2", labels=[int(i % 3) for i in range(len(vectors))])
    index.save(tmp_path / "ix")
    back = Index.load(tmp_path / "ix")
    a, b = index.query(vectors[:5], k=4), back.query(vectors[:5], k=4)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert (
        a.labels.tolist() == b.labels.tolist()
        and back.kind_ == "hnsw"
        and back.faiss_index.hnsw.efSearch == index.ef_search
    )
    (tmp_path / "ix" / "vectors.faiss").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="damaged"):
        Index.load(tmp_path / "ix")
    with pytest.raises(ModelError, match="no index"):
        Index.load(tmp_path / "missing")


def test_an_interrupted_save_keeps_the_previous_index(vectors, tmp_path, monkeypatch):
    import faiss

    Index.build(vectors[:10]).save(tmp_path / "ix")
    before = sorted(os.listdir(tmp_path))

    def broken(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(faiss, "write_index", broken)
    with pytest.raises(KeyboardInterrupt):
        Index.build(vectors[:50]).save(tmp_path / "ix", overwrite=True)
    assert sorted(os.listdir(tmp_path)) == before
    monkeypatch.undo()
    assert len(Index.load(tmp_path / "ix")) == 10


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search")
    ds = aelab.datasets.load("digits")
    aelab.AutoEncoder(n_components=8, hidden_layer_sizes=(64, 32), epochs=20, batch_size=32, random_state=0).fit(
        ds.train.X, image_shape=ds.image_shape
    ).save(folder / "ae")
    return folder / "ae"


def test_cli_index_search_and_add(digits_model, tmp_path, capsys):
    index = tmp_path / "codes"
    assert main(["index", str(digits_model), "--data", "digits", "--out", str(index)]) == 0
    assert "indexed 1437 items (code space, 8-D, l2, exact search)" in capsys.readouterr().out
    assert main(["search", str(index), "--query", "train:5", "-k", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    labels = [n["label"] for n in result["neighbours"]]
    assert result["neighbours"][0]["id"] == "train:5" and labels.count(labels[0]) >= 4  # neighbours share the digit
    figure = tmp_path / "n.png"
    assert main(["search", str(index), "--query", "train:5", "--figure", str(figure)]) == 0
    assert_drawn(figure, images=True)
    assert main(["index", "--add", str(index), "--data", "digits", "--split", "test"]) == 0
    assert len(Index.load(index)) == 1797
    assert main(["search", str(index), "--query", "digits/test:3", "-k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["neighbours"][0]["id"] == "digits/test:3"


def test_cli_bad_queries_are_one_line_errors(digits_model, tmp_path, capsys):
    from PIL import Image

    index = tmp_path / "px"
    assert main(["index", "--space", "pixels", "--data", "digits", "--out", str(index), "--metric", "l2"]) == 0
    capsys.readouterr()
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "tall.png")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "rgb.png")
    (tmp_path / "junk.png").write_text("not an image")
    for query, message in [
        ("tall.png", "is 9x8 but the index holds 8x8"),
        ("junk.png", "cannot be read as an image"),
        ("train:99999", "no item with id"),
    ]:
        target = str(tmp_path / query) if query.endswith(".png") else query
        assert main(["search", str(index), "--query", target, "--no-resize"]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert main(["search", str(index), "--query", str(tmp_path / "rgb.png")]) == 0  # converted to grey
    assert "converted from colour to grey" in capsys.readouterr().out
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(tmp_path / "ok.png")
    assert main(["search", str(index), "--query", str(tmp_path / "ok.png"), "-k", "2"]) == 0
    assert main(["index", "--data", "digits", "--out", str(tmp_path / "c")]) == 1
    assert "needs a trained model" in capsys.readouterr().err


def test_ranking_metrics_by_hand():
    from aelab.search import precision_at_k, ranking_metrics

    # one query of label 1; items ranked by score: labels 1, 0, 1, 0 -> AP = (1/1 + 2/3) / 2
    scores = np.array([[0.9, 0.8, 0.7, 0.1]])
    m = ranking_metrics(scores, np.array([1, 0, 1, 0]), np.array([1]), recall_levels=(0.5, 1.0))
    assert m["average_precision"][0] == pytest.approx((1 + 2 / 3) / 2)
    np.testing.assert_allclose(m["precision_at_recall"][0], [1.0, 2 / 3])
    # leaving the first item out (the query itself): labels 0, 1, 0 -> AP = 1/2
    m = ranking_metrics(scores, np.array([1, 0, 1, 0]), np.array([1]), exclude=np.array([0]))
    assert m["average_precision"][0] == pytest.approx(0.5)
    found = np.array([[1, 0, 1], [2, 2, 2]])
    assert precision_at_k(found, np.array([1, 2]), ks=(1, 3)) == {1: 1.0, 3: pytest.approx(5 / 6)}


def test_well_separated_clusters_are_retrieved_perfectly():
    from aelab.search import evaluate

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 8)) * 10
    labels = np.repeat(np.arange(4), 50)
    X = centres[labels] + rng.normal(size=(200, 8)) * 0.1
    index = Index.build(X[::2], labels=labels[::2].tolist(), metric="l2")
    result = evaluate(index, X[1::2], labels[1::2], ks=(1, 10))
    assert result["map"] == pytest.approx(1.0) and result["precision_at"] == {1: 1.0, 10: 1.0}
    assert result["precision_at_recall"][1.0] == pytest.approx(1.0) and result["latency_ms"]["median"] > 0


def test_cli_evaluate_retrieval_side_by_side(digits_model, tmp_path, capsys):
    for space in ("code", "pixels"):
        assert (
            main(["index", str(digits_model), "--space", space, "--data", "digits", "--out", str(tmp_path / space)])
            == 0
        )
    out = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate-retrieval",
                "--index",
                str(tmp_path / "code"),
                "--index",
                str(tmp_path / "pixels"),
                "--queries",
                "digits",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "code (code)" in printed and "pixels (pixels)" in printed
    metrics = json.loads((out / "metrics.json").read_text())["indexes"]
    for result in metrics.values():
        assert 0.8 < result["precision_at"]["10"] <= 1 and 0 < result["map"] <= 1
    assert_drawn(out / "precision-recall.png", coloured=True)


def test_cli_figure_beside_the_pixel_space_neighbours(digits_model, tmp_path, capsys):
    for space in ("code", "pixels"):
        assert (
            main(["index", str(digits_model), "--space", space, "--data", "digits", "--out", str(tmp_path / space)])
            == 0
        )
    figure = tmp_path / "both.png"
    assert (
        main(
            [
                "search",
                str(tmp_path / "code"),
                "--query",
                "train:0",
                "-k",
                "4",
                "--figure",
                str(figure),
                "--beside",
                str(tmp_path / "pixels"),
            ]
        )
        == 0
    )
    from PIL import Image

    with Image.open(figure) as img:
        assert img.size[1] > 200  # two strips of images
    other = tmp_path / "other"
    assert main(["index", "--space", "pixels", "--data", "digits", "--split", "test", "--out", str(other)]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "search",
                str(tmp_path / "code"),
                "--query",
                "train:0",
                "--figure",
                str(tmp_path / "x.png"),
                "--beside",
                str(other),
            ]
        )
        == 1
    )
    assert "another collection" in capsys.readouterr().err


def test_streamed_npy_and_image_folder_index_like_loaded_data(digits_model, tmp_path, capsys):
    from PIL import Image

    ds = aelab.datasets.load("digits")
    pixels = np.round(ds.train.X[:300] * 255).astype(np.uint8).reshape(-1, 8, 8)
    np.save(tmp_path / "digits.npy", pixels)
    assert (
        main(
            [
                "index",
                str(digits_model),
                "--data",
                str(tmp_path / "digits.npy"),
                "--stream",
                "--batch-size",
                "64",
                "--out",
                str(tmp_path / "streamed"),
            ]
        )
        == 0
    )
    streamed = Index.load(tmp_path / "streamed")
    assert len(streamed) == 300 and streamed.ids[:2] == ["row:0", "row:1"]
    expected = aelab.load(digits_model).transform(pixels.reshape(300, -1) / np.float32(255))
    assert streamed.metric == "l2"  # the model's codes keep neighbours: the index holds them as they are
    np.testing.assert_allclose(streamed.faiss_index.reconstruct_n(0, 300), expected, atol=1e-5)
    figure = ["search", str(tmp_path / "streamed"), "--query", "row:7", "-k", "3", "--figure", str(tmp_path / "s.png")]
    assert main(figure) == 1  # the index names its data; aelab opens only what the user names
    assert main([*figure, "--data", str(tmp_path / "digits.npy")]) == 0

    folder = tmp_path / "images"
    for i, image in enumerate(pixels[:30]):
        (folder / str(i % 3)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(i % 3) / f"{i:03d}.png")
    assert (
        main(
            [
                "index",
                "--space",
                "pixels",
                "--data",
                str(folder),
                "--stream",
                "--batch-size",
                "7",
                "--out",
                str(tmp_path / "folder"),
            ]
        )
        == 0
    )
    index = Index.load(tmp_path / "folder")
    assert len(index) == 30 and sorted(set(index.labels)) == ["0", "1", "2"]
    assert index.paths[0].endswith("000.png")
    capsys.readouterr()
    assert main(["index", "--space", "pixels", "--data", "digits", "--stream", "--out", str(tmp_path / "x")]) == 1
    assert "--stream reads a .npy file, a folder of images or WebDataset shards" in capsys.readouterr().err


def test_a_collection_indexed_and_searched_from_python(digits_model, tmp_path):
    from aelab.search import index_collection, open_collection, search

    source = open_collection("digits", split="test")
    index = index_collection(source, tmp_path / "ix", model=digits_model, info={"data": "digits", "split": "test"})
    assert len(index) == 360 and index.ids[0] == "test:0" and index.info["image_shape"] == [8, 8]
    what, rows = search(Index.load(tmp_path / "ix"), "test:3", k=5)
    assert what == "item test:3" and rows[0]["id"] == "test:3" and len(rows) == 5
    added = index_collection(
        open_collection("digits", split="train"),
        tmp_path / "ix",
        index=Index.load(tmp_path / "ix"),
        info={"data": "digits", "split": "train"},
    )
    assert len(added) == 360 + 1437 and "digits/train:0" in added.ids
    with pytest.raises(DataError, match="already holds items"):
        index_collection(
            open_collection("digits", split="train"),
            tmp_path / "ix",
            index=added,
            info={"data": "digits", "split": "train"},
        )


def test_queries_are_read_like_the_collection(digits_model, tmp_path, capsys):
    from PIL import Image

    index = tmp_path / "codes"
    assert main(["index", str(digits_model), "--data", "digits", "--out", str(index)]) == 0
    image = aelab.datasets.load("digits").train.X[5].reshape(8, 8)
    np.save(tmp_path / "float.npy", image)
    np.save(tmp_path / "uint8.npy", np.round(image * 255).astype(np.uint8))  # scaled to [0, 1] like the collection
    big = np.kron(np.round(image * 255), np.ones((4, 4)))  # 32x32 ...
    Image.fromarray(np.stack([big] * 3, -1).astype(np.uint8)).save(tmp_path / "colour.png")  # ... and RGB
    np.save(tmp_path / "colour.npy", np.stack([big] * 3, -1).astype(np.uint8))  # the same as an array
    found = {}
    for name in ("float.npy", "uint8.npy", "colour.png", "colour.npy"):
        capsys.readouterr()
        assert main(["search", str(index), "--query", str(tmp_path / name), "-k", "5", "--json"]) == 0
        found[name] = [(n["id"], n["label"]) for n in json.loads(capsys.readouterr().out)["neighbours"]]
    assert "train:5" in [i for i, _ in found["float.npy"]]  # itself (codes of one digit lie close: ties)
    assert found["uint8.npy"] == found["float.npy"]
    # resizing blurs a little: neighbours of the same digit
    for name in ("colour.png", "colour.npy"):
        assert [label for _, label in found[name]] == [label for _, label in found["float.npy"]]
    assert main(["search", str(index), "--query", str(tmp_path / "colour.png"), "-k", "1"]) == 0
    assert "resized from 32x32 to 8x8, converted from colour to grey" in capsys.readouterr().out
    assert main(["search", str(index), "--query", str(tmp_path / "colour.png"), "--no-resize"]) == 1
    assert "is 32x32 but the index holds 8x8 images" in capsys.readouterr().err
