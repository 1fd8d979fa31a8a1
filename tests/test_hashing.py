"""Binary codes (semantic hashing) and indexes past one machine: Hamming ranking, ITQ, binary
auto-encoders, IVF-PQ with exact re-ranking, and the sharded, resumable build."""

import numpy as np
import pytest

import aelab
from aelab.errors import DataError, ParameterError
from aelab.models import ITQ
from aelab.search import Index
from aelab.search.metrics import exact_scores
from conftest import saved_without


def _bits(n, width, seed):
    return (np.random.default_rng(seed).random((n, width)) > 0.5).astype(np.float32)


def test_hamming_ranking_is_a_brute_force_popcount():
    items, queries = _bits(300, 24, 0), _bits(7, 24, 1)
    index = Index.build(items, metric="hamming")
    found = index.query(queries, k=20)
    packed_items, packed_queries = np.packbits(items.astype(bool), 1), np.packbits(queries.astype(bool), 1)
    popcount = np.unpackbits(packed_queries[:, None, :] ^ packed_items[None, :, :], axis=2).sum(2)
    np.testing.assert_array_equal(found.scores, np.sort(popcount, 1)[:, :20])
    for q in range(len(queries)):  # every item found is at its own distance
        np.testing.assert_array_equal(popcount[q, found.positions[q]], found.scores[q])
    np.testing.assert_array_equal(-exact_scores(index, queries), popcount)  # what mAP ranks by
    np.testing.assert_array_equal(index.vectors(), items)
    with pytest.raises(DataError, match="0s and 1s"):
        index.query(queries * 0.5)
    with pytest.raises(DataError, match="8 bits at a time"):
        Index.build(_bits(10, 12, 2), metric="hamming")


def test_hamming_precision_shares_out_ties_whatever_the_collection_order():
    # six items at one distance from the query, sorted by label as a collection read folder by
    # folder is; the first two found by position would be all of label 0
    items = np.zeros((8, 8), np.float32)
    items[6:] = 1  # two items farther away, of the query's label
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    query, query_labels = np.zeros((1, 8), np.float32), np.array([1])
    expected = {1: pytest.approx(2 / 6), 2: pytest.approx(2 / 6), 6: pytest.approx(2 / 6), 8: pytest.approx(4 / 8)}
    for order in (np.arange(8), np.arange(8)[::-1]):
        index = Index.build(items[order], labels=[labels[i] for i in order], metric="hamming")
        found = aelab.search.evaluate(index, query, query_labels, ks=(1, 2, 6, 8), latency_queries=1)
        assert found["precision_at"] == expected
    # the query itself left out of its own ties (queries drawn from the collection)
    index = Index.build(items, labels=labels, metric="hamming")
    found = aelab.search.evaluate(index, items[4:5], query_labels, ks=(2,), latency_queries=1, exclude=np.array([4]))
    assert found["precision_at"] == {2: pytest.approx(1 / 5)}


def test_hamming_average_precision_is_the_mean_over_every_order_of_the_ties():
    import itertools

    from aelab.search import ranking_metrics

    scores = np.array([[-1, -2, -2, -2, -2, -3, -5, -5.0]])
    labels = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    groups = [[0], [1, 2, 3, 4], [5], [6, 7]]
    every_order = []
    for first, second in itertools.product(itertools.permutations(groups[1]), itertools.permutations(groups[3])):
        rel = labels[[0, *first, 5, *second]] == 1
        every_order.append(np.mean(np.cumsum(rel)[rel] / (np.flatnonzero(rel) + 1)))
    shared = ranking_metrics(scores, labels, np.array([1]), ties_shared=True)["average_precision"][0]
    assert shared == pytest.approx(np.mean(every_order))
    in_order = ranking_metrics(scores, labels, np.array([1]))["average_precision"][0]
    assert in_order == pytest.approx(every_order[0]) and in_order != pytest.approx(shared)
    untied = np.array([[-1, -2, -3, -4, -5, -6, -7, -8.0]])  # without ties the two agree
    assert ranking_metrics(untied, labels, np.array([1]), ties_shared=True)["average_precision"][0] == pytest.approx(
        ranking_metrics(untied, labels, np.array([1]))["average_precision"][0]
    )
    items = np.zeros((8, 8), np.float32)
    items[6:] = 1  # the Hamming index's mAP is the same whatever the collection's order
    maps = [
        aelab.search.evaluate(
            Index.build(items[order], labels=list(labels[order]), metric="hamming"),
            np.zeros((1, 8), np.float32),
            np.array([1]),
            ks=(2,),
            latency_queries=1,
        )["map"]
        for order in (np.arange(8), np.arange(8)[::-1])
    ]
    assert maps[0] == pytest.approx(maps[1])


def test_itq_lowers_its_quantization_loss_at_every_iteration_and_beats_pca_signs():
    ds = aelab.datasets.load("digits")
    itq = ITQ(n_components=16, n_iter=30, random_state=0).fit(ds.train.X)
    loss = np.array(itq.quantization_loss_)
    assert len(loss) == 30 and (np.diff(loss) <= 1e-6 * loss[0]).all() and loss[-1] < loss[0]
    pcah = ITQ(n_components=16, n_iter=0).fit(ds.train.X)
    maps = {}
    for name, model in (("itq", itq), ("pcah", pcah)):
        codes = model.transform(ds.train.X)
        assert set(np.unique(codes)) <= {0.0, 1.0} and codes.shape == (len(ds.train.X), 16)
        index = Index.build(codes, labels=ds.train.y.tolist(), metric="hamming")
        maps[name] = aelab.search.evaluate(index, model.transform(ds.test.X), ds.test.y, latency_queries=1)["map"]
    assert maps["itq"] > maps["pcah"]


def test_a_binary_auto_encoder_saves_loads_and_encodes_the_same_bits(tmp_path):
    ds = aelab.datasets.load("digits")
    model = aelab.AutoEncoder(n_components=16, binary=True, hidden_layer_sizes=(64,), epochs=5, random_state=0)
    codes = model.fit(ds.train.X).transform(ds.test.X)
    assert codes.shape == (360, 16) and set(np.unique(codes)) == {0.0, 1.0}
    # by default a binary code keeps its inputs' neighbours (0.4 per input feature), on clean inputs
    assert model.terms_ == {"binary": True, "keep_neighbours": 0.4 * 64, "n_neighbours": 15}
    assert model.module_.binary_noise == 2.0  # binary_noise="auto": less noise with the neighbour term
    former = aelab.AutoEncoder(n_components=16, binary=True, keep_neighbours=0, hidden_layer_sizes=(64,), epochs=1)
    assert former.fit(ds.train.X).terms_ == {"binary": True, "denoise": "mask:0.7"}  # masked without it
    assert former.module_.binary_noise == 4.0
    model.save(tmp_path / "bits")
    again = aelab.load(tmp_path / "bits")
    np.testing.assert_array_equal(again.transform(ds.test.X), codes)
    np.testing.assert_allclose(again.inverse_transform(codes), model.inverse_transform(codes))
    with pytest.raises(aelab.ParameterError, match="binary or variational"):
        aelab.AutoEncoder(binary=True, variational=True, epochs=1).fit(ds.train.X)
    clean = aelab.AutoEncoder(n_components=16, binary=True, denoise=None, keep_neighbours=0, epochs=1)
    assert clean.fit(ds.train.X).terms_ == {"binary": True}
    default = aelab.AutoEncoder(hidden_layer_sizes=(64,), epochs=1).fit(ds.train.X).terms_
    assert default == {"keep_neighbours": 25.6, "n_neighbours": 15}  # real-valued codes keep neighbours


@pytest.mark.slow
def test_default_bits_are_balanced_and_rank_the_digits_above_itq_and_the_former_recipes():
    # The default keeps the inputs' neighbours in the bits (0.706 here); without that term, bits of
    # 70% masked inputs (the former default, 0.653) ranked above ITQ's rotated PCA (0.634) and bits
    # of clean inputs below it.
    ds = aelab.datasets.load("digits")

    def mean_ap(model):
        index = Index.build(model.transform(ds.train.X), labels=ds.train.y.tolist(), metric="hamming")
        return aelab.search.evaluate(index, model.transform(ds.test.X), ds.test.y, latency_queries=1)["map"]

    itq = mean_ap(ITQ(n_components=16, n_iter=50, random_state=0).fit(ds.train.X))
    model = aelab.AutoEncoder(n_components=16, binary=True, random_state=0, verbose=False).fit(ds.train.X)
    ones = model.transform(ds.train.X).mean(0)
    assert ones.min() >= 0.3 and ones.max() <= 0.7, ones  # every bit splits the training data
    default = mean_ap(model)
    settings = dict(n_components=16, binary=True, keep_neighbours=0, random_state=0, verbose=False)
    masked = mean_ap(aelab.AutoEncoder(**settings).fit(ds.train.X))
    clean = mean_ap(aelab.AutoEncoder(**settings, denoise=None).fit(ds.train.X))
    assert default > masked + 0.03 and masked > itq + 0.01 and masked > clean + 0.05, (default, masked, itq, clean)


def test_conv_bits_come_from_the_code_not_from_the_pooling_switches():
    # Max unpooling hands the decoder where each maximum was; trained with noisy bits beside that,
    # the decoder ignored the bits (they ranked MNIST at chance; every digit got the same code).
    ds = aelab.datasets.load("digits")
    settings = dict(n_components=16, channels=(16, 8), binary=True, denoise=None, binary_noise=1.0, epochs=20)
    cae = aelab.ConvAutoEncoder(**settings, random_state=0).fit(ds.train.X, image_shape=ds.image_shape)
    bits = cae.transform(ds.train.X)
    index = Index.build(bits, labels=ds.train.y.tolist(), metric="hamming")
    found = aelab.search.evaluate(index, cae.transform(ds.test.X), ds.test.y, latency_queries=1)
    assert len(np.unique(bits, axis=0)) > 50 and found["map"] > 0.35
    with pytest.raises(ParameterError, match="unpooling"):
        aelab.ConvAutoEncoder(**settings, unpooling="max").fit(ds.train.X, image_shape=ds.image_shape)


def test_binary_noise_sets_the_noise_before_the_sigmoid_in_training_only():
    import torch

    from aelab.nn import binarize

    logits = torch.tensor([[-3.0, 0.5, 2.0]])
    torch.manual_seed(0)
    quiet = torch.stack([binarize(logits, True, noise=1e-4) for _ in range(50)])
    loud = torch.stack([binarize(logits, True, noise=8.0) for _ in range(50)])
    torch.testing.assert_close(quiet, torch.sigmoid(logits).expand_as(quiet), atol=1e-4, rtol=0)
    assert float(loud.std(0).min()) > 0.3  # noisy sigmoids, near 0 or 1 by chance
    assert binarize(logits, False, noise=8.0).tolist() == [[0.0, 1.0, 1.0]]
    ds = aelab.datasets.load("digits")
    model = aelab.AutoEncoder(n_components=8, binary=True, binary_noise=8.0, hidden_layer_sizes=(32,), epochs=1)
    assert model.fit(ds.train.X[:200]).module_.binary_noise == 8.0
    with pytest.raises(aelab.ParameterError, match="binary_noise"):
        aelab.AutoEncoder(binary=True, binary_noise=0.0).fit(ds.train.X[:50])


def test_bits_can_keep_neighbours_by_their_probabilities_on_one_scale_whatever_their_number():
    import torch

    from aelab.objectives import bit_probabilities, neighbour_keeping

    torch.manual_seed(0)
    logits = torch.randn(32, 16).sign() * (3 + 3 * torch.rand(32, 16))  # bits of 95% or more
    longer = logits.repeat(1, 8)  # the same bits, each eight times: 128 of them
    short, long = bit_probabilities(logits), bit_probabilities(longer)

    def squared_distances(codes):
        return (codes[:, None, :] - codes[None, :, :]).square().sum(-1)

    torch.testing.assert_close(squared_distances(short), squared_distances(long))
    # they count whether the bits agree, not how large the logits are
    same_bits, other_bits = bit_probabilities(logits * 10), bit_probabilities(-logits)
    assert float((short - same_bits).norm(dim=1).max()) < 1.0 < float((short - other_bits).norm(dim=1).min())
    assert float(neighbour_keeping(short, same_bits)) < float(neighbour_keeping(short, other_bits))

    ds = aelab.datasets.load("digits")
    settings = dict(n_components=16, binary=True, hidden_layer_sizes=(32,), epochs=2, random_state=0)
    by_logits = aelab.AutoEncoder(**settings).fit(ds.train.X[:300])
    by_bits = aelab.AutoEncoder(**settings, binary_neighbours="probabilities").fit(ds.train.X[:300])
    assert by_bits.terms_ == dict(by_logits.terms_, binary_neighbours="probabilities")
    assert by_logits.history_[-1]["keep_neighbours"] != by_bits.history_[-1]["keep_neighbours"]
    with pytest.raises(ParameterError, match="binary_neighbours must be one of logits, probabilities, not 'bits'"):
        aelab.AutoEncoder(binary=True, binary_neighbours="bits").fit(ds.train.X[:50])


def test_document_bits_keep_neighbours_by_their_probabilities_and_older_ones_load_as_trained(tmp_path):
    rng = np.random.default_rng(0)
    topics = [f"alpha beta gamma delta{i}".split() for i in range(2)] + [["zeta", "eta", "theta", "iota"]]
    texts = [" ".join(rng.choice(topics[i % 3], size=int(rng.integers(3, 12)))) for i in range(90)]
    settings = dict(n_components=8, hidden_layer_sizes=(16,), epochs=3, batch_size=16, random_state=0)
    model = aelab.DocumentModel(**settings, binary=True).fit(texts)
    assert model.code_model_.terms_["binary_neighbours"] == "probabilities"
    real = aelab.DocumentModel(**settings).fit(texts)  # real-valued codes have no bits to compare
    assert "binary_neighbours" not in real.code_model_.terms_
    old = saved_without(model, tmp_path / "bits", "binary_neighbours", at=("fitted", "code_model", "params"))
    assert old.code_model_.binary_neighbours == "logits"  # what those bits were trained with
    np.testing.assert_array_equal(old.transform(texts), model.transform(texts))


def test_document_bits_take_less_noise_with_the_neighbour_term_than_image_bits_do():
    from aelab.params import BINARY_NOISE, DOCUMENT_NEIGHBOUR_BINARY_NOISE, NEIGHBOUR_BINARY_NOISE

    texts = [f"apple banana cherry word{i % 7}" if i % 2 else f"river stone cloud word{i % 5}" for i in range(60)]
    settings = dict(n_components=8, hidden_layer_sizes=(16,), epochs=2, batch_size=16, random_state=0, binary=True)
    with_term = aelab.DocumentModel(**settings).fit(texts)
    without = aelab.DocumentModel(**settings, keep_neighbours=0).fit(texts)
    assert (
        with_term.code_model_._binary_noise() == DOCUMENT_NEIGHBOUR_BINARY_NOISE < NEIGHBOUR_BINARY_NOISE < BINARY_NOISE
    )
    assert without.code_model_._binary_noise() == BINARY_NOISE


def test_ivfpq_with_reranking_recalls_the_exact_neighbours_probing_few_cells(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 20)) * 3
    X = (centres[rng.integers(0, 40, 20000)] + rng.normal(size=(20000, 20))).astype(np.float32)
    queries = X[:200] + 0.05
    for metric in ("cosine", "l2"):
        exact = Index.build(X, kind="exact", metric=metric).query(queries, k=10).positions
        index = Index.build(X, kind="ivfpq", metric=metric, n_probe=16)
        pq = index.faiss_index.pq
        assert index.faiss_index.nlist == 512 and (pq.M, pq.nbits) == (5, 4)  # 4 bits a 4-D group, 16 of 512 cells
        found = index.query(queries, k=10)
        assert _recall(found.positions, exact) >= 0.95, metric
        assert index.memory_bytes() < X.nbytes / 3  # l2: with FAISS's table of 512 cells' residual distances
    index.save(tmp_path / "pq")
    again = Index.load(tmp_path / "pq")
    np.testing.assert_array_equal(again.query(queries, k=10).positions, found.positions)
    np.testing.assert_array_equal(again.vector(5), X[5:6])
    more = X[:50] * 1.5 + 7  # added to the loaded index (FAISS's fast-scan lists take them as they are)
    again.add(more)
    assert again.query(more, k=1).positions[:, 0].tolist() == list(range(20000, 20050))


def _recall(approx, exact) -> float:
    return float(np.mean([len(set(a) & set(e)) / exact.shape[1] for a, e in zip(approx, exact)]))


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(20, 10)) * 3
    X = (centres[rng.integers(0, 20, 12000)] + rng.normal(size=(12000, 10))).astype(np.float32)
    path = tmp_path_factory.mktemp("sharded") / "codes.npy"
    np.save(path, X)
    return X, path


def test_a_sharded_build_finds_what_one_index_built_at_once_finds(collection, tmp_path):
    from aelab.search.sharded import build_sharded

    X, path = collection
    settings = dict(space="pixels", metric="l2", ivf_lists=16, info={"stream": True})
    sharded = build_sharded({"spec": str(path), "stream": True}, tmp_path / "index", shards=3, workers=2, **settings)
    once = Index.build(X, kind="ivfpq", metric="l2", space="pixels", ivf_lists=16)
    queries = X[::600] + 0.1
    loaded = Index.load(tmp_path / "index")
    for index in (sharded, loaded):
        found, expected = index.query(queries, k=10), once.query(queries, k=10)
        np.testing.assert_array_equal(found.positions, expected.positions)
        np.testing.assert_allclose(found.scores, expected.scores, rtol=1e-5)
    assert loaded.ids[:2] == ["row:0", "row:1"] and len(loaded) == 12000 and loaded.info["shards"] == 3
    assert not (tmp_path / "index.building").exists()


def test_a_shard_killed_mid_write_is_rebuilt_and_never_merged(collection, tmp_path, monkeypatch):
    from aelab.search import sharded

    X, path = collection
    settings = dict(space="pixels", metric="l2", ivf_lists=16, info={"stream": True})
    written = []
    real_save, real_build = sharded.save_json, sharded._build_shard

    def die_on_the_third_shard(file, value):
        if file.name == "items.json":
            if len(written) == 2:
                raise KeyboardInterrupt  # killed while the third shard is being written
            written.append(file)
        real_save(file, value)

    monkeypatch.setattr(sharded, "save_json", die_on_the_third_shard)
    with pytest.raises(KeyboardInterrupt):
        sharded.build_sharded({"spec": str(path), "stream": True}, tmp_path / "index", shards=4, **settings)
    work = tmp_path / "index.building"
    assert not (tmp_path / "index").exists()
    assert sorted(p.name for p in work.glob("shard-*")) == ["shard-00000", "shard-00001"]  # none half-written
    rebuilt = []
    monkeypatch.setattr(sharded, "save_json", real_save)
    monkeypatch.setattr(sharded, "_build_shard", lambda *job: rebuilt.append(job[2]) or real_build(*job))
    index = sharded.build_sharded({"spec": str(path), "stream": True}, tmp_path / "index", shards=4, **settings)
    assert rebuilt == [2, 3]  # the rerun rebuilt the killed shard and the one never begun
    once = Index.build(X, kind="ivfpq", metric="l2", space="pixels", ivf_lists=16)
    np.testing.assert_array_equal(index.query(X[:30], k=5).positions, once.query(X[:30], k=5).positions)


def test_cli_binary_codes_are_trained_indexed_searched_and_evaluated_beside_itq(tmp_path, capsys):
    import json

    from aelab.cli import main

    model = tmp_path / "bits"
    train = ["train", "--data", "digits", "--binary", "16", "--hidden", "64", "--epochs", "5", "--out", str(model)]
    assert main(train) == 0
    assert aelab.load(model).code_size == 16 and aelab.load(model).binary is True
    for space in ("code", "itq"):
        folder = str(tmp_path / space)
        assert main(["index", str(model), "--space", space, "--data", "digits", "--out", folder]) == 0
        assert "hamming" in capsys.readouterr().out
    assert main(["search", str(tmp_path / "code"), "--query", "train:5", "-k", "3", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["metric"] == "hamming" and found["neighbours"][0]["score"] == 0
    evaluation = ["evaluate-retrieval", "--index", str(tmp_path / "code"), "--index", str(tmp_path / "itq")]
    assert main([*evaluation, "--queries", "digits", "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())["indexes"]
    assert set(metrics) == {"code (code)", "itq (itq)"} and all(0 < m["map"] <= 1 for m in metrics.values())
    assert main(["train", "--data", "digits", "--binary", "12", "--out", str(tmp_path / "odd")]) == 1
    assert "multiple of 8" in capsys.readouterr().err
    assert main(["train", "--data", "digits", "--binary", "16", "--vae", "--out", str(tmp_path / "both")]) == 1
    refused = capsys.readouterr()
    assert "binary or variational" in refused.err and "data:" not in refused.out  # before any data is read


def test_cli_text_train_binary_searches_documents_by_hamming_distance(tmp_path, capsys):
    import json

    from aelab.cli import main
    from aelab.text import DocumentSearch
    from test_document_search import _write_folder, corpus

    data = tmp_path / "docs"
    _write_folder(data, corpus(25, 0))
    common = ["--data", str(data), "--hidden", "32", "--epochs", "20", "--batch-size", "16", "--lr", "3e-3", "--quiet"]
    assert main(["text", "train", *common, "--binary", "16", "--out", str(tmp_path / "bits")]) == 0
    assert "precision at recall" in capsys.readouterr().out
    engine = DocumentSearch.load(tmp_path / "bits")
    assert engine.index("autoencoder").metric == "hamming" and engine.index("lsa").metric == "cosine"
    assert set(np.unique(engine.index("autoencoder").vectors())) == {0.0, 1.0}
    assert main(["text", "search", str(tmp_path / "bits"), "--query", "garlic onion recipe", "-k", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hits"]) == 3
    assert main(["text", "search", str(tmp_path / "bits"), "--query", "garlic onion recipe", "-k", "3"]) == 0
    printed = capsys.readouterr().out  # the scores are bits that differ, not similarities
    assert "16-D), scores: Hamming distance (bits that differ)" in printed and "cosine" not in printed
    assert main(["text", "search", str(tmp_path / "bits"), "--query", "garlic onion recipe", "--model", "lsa"]) == 0
    assert "cosine similarity" in capsys.readouterr().out
    assert main(["text", "train", *common, "--binary", "10", "--out", str(tmp_path / "odd")]) == 1
    assert "multiple of 8" in capsys.readouterr().err
