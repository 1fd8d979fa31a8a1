"""The neighbour-keeping term (parametric UMAP's loss over the inputs' k-nearest-neighbour graph):
its graph, its determinism, its place in the defaults, and what it does to search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aelab
from aelab.errors import ParameterError
from aelab.params import DOCUMENT_KEEP_NEIGHBOURS, DOCUMENT_N_NEIGHBOURS, N_NEIGHBOURS
from aelab.search import Index, evaluate
from aelab.training.neighbours import NeighbourGraph, fuzzy_weights
from conftest import saved_without

SMALL = dict(n_components=4, hidden_layer_sizes=(32, 16), epochs=30, batch_size=32, random_state=0)


def clusters(n: int = 400, k: int = 8, dims: int = 40, seed: int = 0):
    """``k`` clusters on curved, noisy strands in ``dims`` dimensions: a few hundred items whose
    neighbours are known by their cluster, where straight lines (PCA) mix them."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    t = rng.random((n, 1)) * 3
    centres = rng.normal(0, 1.0, (k, dims))
    bends = rng.normal(0, 1.5, (k, dims))
    X = centres[y] + np.sin(t * 2) * bends[y] + t * rng.normal(0, 0.3, (1, dims)) + rng.normal(0, 0.6, (n, dims))
    return X.astype(np.float32), y


def mean_ap(train_codes, train_y, test_codes, test_y) -> float:
    index = Index.build(train_codes, labels=train_y.tolist(), kind="exact")
    return evaluate(index, test_codes, test_y)["map"]


def test_the_default_codes_of_a_clustered_collection_rank_above_pca():
    X, y = clusters()
    part = aelab.datasets.hold_out("clusters", X, y, 0.25, 0)
    (Xtr, ytr), (Xte, yte) = (part.train.X, part.train.y), (part.test.X, part.test.y)
    model = aelab.AutoEncoder(n_components=4, random_state=0).fit(Xtr)
    assert model.terms_["keep_neighbours"] == pytest.approx(0.4 * 40)  # on by default, 0.4 per input feature
    plain = aelab.AutoEncoder(n_components=4, random_state=0, keep_neighbours=0).fit(Xtr)
    pca = aelab.PCA(n_components=4).fit(Xtr)
    kept, without, linear = (mean_ap(m.transform(Xtr), ytr, m.transform(Xte), yte) for m in (model, plain, pca))
    assert kept > linear + 0.05 and kept > without + 0.05, (kept, without, linear)


def test_neighbour_keeping_codes_are_searched_by_euclidean_distance_by_default(tmp_path, capsys):
    """The term pulls and pushes codes by their Euclidean distance, so an index over such codes
    searches by it; codes without the term keep cosine, bits Hamming, documents cosine."""
    from aelab.cli import main
    from aelab.search import default_metric

    X, y = clusters(200)
    kept = aelab.AutoEncoder(**SMALL).fit(X)
    plain = aelab.AutoEncoder(**{**SMALL, "keep_neighbours": 0}).fit(X)
    bits = aelab.AutoEncoder(**{**SMALL, "n_components": 8, "binary": True, "epochs": 2}).fit(X)
    models = (kept, plain, bits, aelab.PCA(4).fit(X))
    assert [default_metric(m) for m in models] == ["l2", "cosine", "hamming", "cosine"]
    kept.save(tmp_path / "m")
    assert default_metric(aelab.load(tmp_path / "m")) == "l2"
    np.save(tmp_path / "x.npy", X)
    assert main(["index", str(tmp_path / "m"), "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "i")]) == 0
    assert "4-D, l2, exact search" in capsys.readouterr().out
    index = Index.load(tmp_path / "i")
    found = index.query(index.vectors()[:5], 3)
    np.testing.assert_array_equal(found.positions[:, 0], np.arange(5))  # each item is its own nearest, at distance 0
    np.testing.assert_allclose(found.scores[:, 0], 0, atol=1e-5)


def test_the_same_seed_gives_the_same_codes_and_another_seed_other_ones():
    X, _ = clusters(200)
    a, b = (aelab.AutoEncoder(**SMALL).fit(X).transform(X) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    other = aelab.AutoEncoder(**{**SMALL, "random_state": 1}).fit(X).transform(X)
    assert not np.allclose(a, other)


def test_the_graph_holds_each_rows_nearest_rows_and_draws_partners_by_weight():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    rows = np.arange(0, 300, 2)  # the training rows: every other one
    graph = NeighbourGraph.build(lambda at: X[at], rows, 6)
    distances = ((X[rows][:, None] - X[rows][None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    exact = rows[np.argsort(distances, 1)[:, :6]]
    np.testing.assert_array_equal(np.sort(graph.neighbours, 1), np.sort(exact, 1))  # training rows only
    drawn = np.stack([graph.partners(np.random.default_rng(s)) for s in range(400)])
    first = (drawn == graph.neighbours[:, :1].T).mean()  # the nearest is drawn most (weight 1)
    assert first > 1 / 6 + 0.05 and set(np.unique(drawn)) <= set(rows)
    weights = fuzzy_weights(np.array([[1.0, 2.0, 3.0, 4.0]]))
    assert weights[0, 0] == pytest.approx(1.0) and weights.sum() == pytest.approx(2.0, rel=1e-3)  # log2(4)


def test_word_counts_are_neighbours_by_their_words_not_by_their_length():
    # two topics of 20 words each; each document's counts, and a copy of it ten times as long
    rng = np.random.default_rng(0)
    topics = np.zeros((40, 40), np.float32)
    topics[:20, :20] = rng.integers(0, 3, (20, 20)) + (rng.random((20, 20)) < 0.5)
    topics[20:, 20:] = rng.integers(0, 3, (20, 20)) + (rng.random((20, 20)) < 0.5)
    X = np.concatenate([topics, 10 * topics])
    model = aelab.AutoEncoder(log_input=True, scaling="none", keep_neighbours=1.0)
    graph = NeighbourGraph.build(lambda at: X[at], np.arange(80), 3, words=model._neighbours_by_words())
    topic = np.arange(80) % 40 // 20
    assert (topic[graph.neighbours] == topic[:, None]).all()
    # each document's long copy is among its neighbours (by raw counts, none is: the long ones flock)
    assert (graph.neighbours[:40] == np.arange(40, 80)[:, None]).any(1).all()
    assert not aelab.AutoEncoder()._neighbours_by_words()  # other data is compared as it is


def test_documents_without_words_are_nobodys_neighbours_but_each_others():
    # a document of none of the vocabulary's words lay at distance 1 from every other, nearer than
    # any neighbour that shares less than half its weighted words: it was everyone's neighbour
    rng = np.random.default_rng(1)
    X = (rng.random((60, 300)) < 0.05).astype(np.float32) * rng.integers(1, 4, (60, 300))
    X[:4] = 0  # four empty documents
    graph = NeighbourGraph.build(lambda at: X[at], np.arange(60), 3, words=True)
    assert not np.isin(graph.neighbours[4:], np.arange(4)).any()
    assert np.isin(graph.neighbours[:4], np.arange(4)).all()


def test_a_streamed_run_builds_the_same_graph_and_trains_the_same_codes(tmp_path):
    X, _ = clusters(240, dims=80)  # more features than the graph compares: their principal directions
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    rows = np.arange(10, 240)
    in_memory = NeighbourGraph.build(lambda at: X[at], rows, 15)
    streamed = NeighbourGraph.build(lambda at: np.asarray(mapped[np.sort(at)])[np.argsort(np.argsort(at))], rows, 15)
    np.testing.assert_array_equal(in_memory.neighbours, streamed.neighbours)
    a = aelab.AutoEncoder(**SMALL).fit(X).transform(X)
    b = aelab.AutoEncoder(**SMALL).fit(mapped, stream=True).transform(X)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_bad_neighbour_options_are_one_line(capsys):
    X, _ = clusters(60)
    with pytest.raises(ParameterError, match="n_neighbours=80, but there are 54 training samples"):
        aelab.AutoEncoder(**{**SMALL, "n_neighbours": 80}).fit(X)
    with pytest.raises(ParameterError, match="keep_neighbours must be a number >= 0"):
        aelab.AutoEncoder(keep_neighbours=-1).validate_params()
    small = aelab.AutoEncoder(**{**SMALL, "epochs": 2}).fit(X[:6])  # "auto": as many as there are
    assert small.terms_["n_neighbours"] == 4
    from aelab.cli import main

    assert main(["train", "--data", "digits", "--keep-neighbours", "-2", "--out", "x"]) == 1
    assert "--keep-neighbours must be a number >= 0" in capsys.readouterr().err


def test_a_model_saved_before_keep_neighbours_loads_with_the_terms_it_was_trained_with(tmp_path):
    X, _ = clusters(100)
    model = aelab.AutoEncoder(**{**SMALL, "epochs": 2, "keep_neighbours": 0, "keep_distances": "auto"}).fit(X)
    old = saved_without(model, tmp_path / "m", "keep_neighbours", "n_neighbours")
    assert old.keep_neighbours == 0.0 and old.terms_ == {"keep_distances": 30.0}
    np.testing.assert_array_equal(old.transform(X), aelab.load(tmp_path / "m").transform(X))


def test_the_term_pulls_a_neighbour_near_and_pushes_the_others_away():
    from aelab.objectives import neighbour_keeping

    torch.manual_seed(0)
    codes = torch.randn(64, 3) * 3
    near = neighbour_keeping(codes, codes + 0.01)
    far = neighbour_keeping(codes, codes + torch.randn(64, 3) * 3)
    assert float(near) < float(far)


def test_document_models_keep_neighbours_by_default_and_older_ones_load_without(tmp_path, capsys):
    rng = np.random.default_rng(0)
    topics = [f"alpha beta gamma delta{i}".split() for i in range(2)] + [["zeta", "eta", "theta", "iota"]]
    texts = [" ".join(rng.choice(topics[i % 3], size=int(rng.integers(3, 12)))) for i in range(90)]
    model = aelab.DocumentModel(n_components=3, hidden_layer_sizes=(16,), epochs=3, batch_size=16, random_state=0)
    model.fit(texts)
    inner = model.code_model_
    assert inner.keep_neighbours == DOCUMENT_KEEP_NEIGHBOURS and inner.log_input == "unit"
    assert inner.normalization == "batch" and "keep_neighbours" in inner.history_[-1]
    from aelab.search import default_metric

    assert default_metric(model) == "cosine"  # measured: documents' codes rank better by their angles
    without = aelab.DocumentModel(n_components=3, hidden_layer_sizes=(16,), epochs=3, keep_neighbours=0, random_state=0)
    inner = without.fit(texts).code_model_
    assert inner.log_input is True and inner.activation == "tanh" and "keep_neighbours" not in inner.history_[-1]
    a_map = aelab.DocumentModel(n_components=2, hidden_layer_sizes=(16,), epochs=1, random_state=0).fit(texts)
    assert a_map.code_model_.keep_neighbours == 0.0  # 2-D maps of documents keep the former recipe
    old = saved_without(model, tmp_path / "doc", "keep_neighbours")
    assert old.keep_neighbours == 0.0
    np.testing.assert_array_equal(old.transform(texts), model.transform(texts))
    assert "--keep-neighbours must be a number >= 0" in text_train_refuses(
        texts, "--keep-neighbours", "-1", tmp_path, capsys
    )


def test_document_models_keep_a_wider_circle_of_neighbours_and_older_ones_load_with_theirs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    topics = [["alpha", "beta", "gamma", "delta"], ["zeta", "eta", "theta", "iota"]]
    texts = [" ".join(rng.choice(topics[i % 2], size=int(rng.integers(3, 9)))) for i in range(80)]
    settings = dict(n_components=3, hidden_layer_sizes=(16,), epochs=1, batch_size=16, random_state=0)
    model = aelab.DocumentModel(**settings).fit(texts)
    assert model.code_model_.terms_["n_neighbours"] == DOCUMENT_N_NEIGHBOURS
    few = aelab.DocumentModel(**settings).fit(texts[:20])
    assert few.code_model_.terms_["n_neighbours"] == 19  # every other document
    assert aelab.DocumentModel(**settings, n_neighbours=5).fit(texts).code_model_.terms_["n_neighbours"] == 5
    with pytest.raises(ParameterError, match="n_neighbours=80, but there are 80 training samples"):
        aelab.DocumentModel(**settings, n_neighbours=80).fit(texts)
    old = saved_without(model, tmp_path / "doc", "n_neighbours")
    assert old.n_neighbours == N_NEIGHBOURS  # what "auto" meant when it was saved
    np.testing.assert_array_equal(old.transform(texts), model.transform(texts))
    assert "--n-neighbours must be a whole number >= 1" in text_train_refuses(
        texts, "--n-neighbours", "0", tmp_path, capsys
    )


def text_train_refuses(texts, option: str, value: str, tmp_path, capsys) -> str:
    """What ``aelab text train`` prints when ``option`` is ``value`` on a folder of ``texts`` (it
    must exit with status 1 and write nothing)."""
    from aelab.cli import main

    folder = tmp_path / "docs"
    for i, text in enumerate(texts[:12]):
        (folder / str(i % 2)).mkdir(parents=True, exist_ok=True)
        (folder / str(i % 2) / f"{i}.txt").write_text(text)
    out = tmp_path / "search"
    assert main(["text", "train", "--data", str(folder), option, value, "--out", str(out)]) == 1
    assert not out.exists()
    return capsys.readouterr().err
