import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from aelab.errors import DataError, ModelError, ParameterError
from aelab.text import DocumentVectorizer

DOCS = [
    "The rocket reached orbit and the crew cheered.",
    "A new engine for the car: more power, less fuel.",
    "Orbit insertion burn for the rocket engine.",
    "",
    "Car dealers sell cars; the car market grows.",
    "\x00\x01 binary junk \xff",
]


def test_weightings_match_scikit_learn_and_their_definitions():
    counts = DocumentVectorizer("counts", max_features=20).fit(DOCS)
    expected = CountVectorizer(max_features=20, stop_words="english").fit(DOCS)
    assert counts.vocabulary == expected.get_feature_names_out().tolist()
    assert "the" not in counts.vocabulary and "and" not in counts.vocabulary  # stop words removed
    C = counts.transform(DOCS).toarray()
    np.testing.assert_array_equal(C, expected.transform(DOCS).toarray())
    assert not C[3].any()  # an empty document is a row of zeros

    tf = DocumentVectorizer("tf", max_features=20).fit(DOCS).transform(DOCS).toarray()
    totals = C.sum(1, keepdims=True)
    np.testing.assert_allclose(tf, np.divide(C, totals, out=np.zeros_like(C), where=totals > 0), rtol=1e-6)

    tfidf = DocumentVectorizer("tfidf", max_features=20).fit(DOCS).transform(DOCS).toarray()
    reference = TfidfVectorizer(max_features=20, stop_words="english").fit_transform(DOCS).toarray()
    np.testing.assert_allclose(tfidf, reference, rtol=1e-5)

    idf_model = DocumentVectorizer("idf", max_features=20).fit(DOCS)
    idf = idf_model.transform(DOCS).toarray()
    np.testing.assert_allclose(idf, (C > 0) * idf_model.idf, rtol=1e-6)


def test_vocabulary_keeps_the_most_frequent_words():
    v = DocumentVectorizer("counts", max_features=1).fit(DOCS)
    assert v.vocabulary == ["car"] and v.n_features == 1  # 3 occurrences; rocket, orbit, engine have 2


def test_words_are_letters_only():
    v = DocumentVectorizer("counts").fit(["in 1993apr15 the 2nd V8 engine made 300 hp", "engine noise"])
    assert v.vocabulary == ["engine", "hp", "noise"]  # no numbers, dates or one-letter words


def test_state_round_trips_through_json():
    v = DocumentVectorizer("tfidf", max_features=15).fit(DOCS)
    back = DocumentVectorizer.from_state(json.loads(json.dumps(v.state())))
    np.testing.assert_array_equal(
        back.transform(["rocket car orbit"]).toarray(), v.transform(["rocket car orbit"]).toarray()
    )
    state = v.state()
    state["idf"] = state["idf"][:-1]
    with pytest.raises(ModelError, match="damaged"):
        DocumentVectorizer.from_state(state)


def test_errors():
    with pytest.raises(ParameterError, match="weighting"):
        DocumentVectorizer("bm25")
    with pytest.raises(DataError, match="empty"):
        DocumentVectorizer().fit(["", "the and of"])
    with pytest.raises(ModelError, match="not fitted"):
        DocumentVectorizer().transform(["x"])


def test_lsa_on_sparse_document_vectors_matches_truncated_svd_and_round_trips(tmp_path):
    from sklearn.decomposition import TruncatedSVD

    from aelab import load
    from aelab.models import LSA

    X = DocumentVectorizer(max_features=20).fit_transform(DOCS * 3)
    lsa = LSA(n_components=3, random_state=0).fit(X)
    reference = TruncatedSVD(n_components=3, n_iter=7, random_state=0).fit(X)
    np.testing.assert_allclose(np.abs(lsa.transform(X)), np.abs(reference.transform(X)), atol=1e-5)
    dense_error = float(np.mean(np.sum((reference.inverse_transform(reference.transform(X)) - X.toarray()) ** 2, 1)))
    assert lsa.reconstruction_error(X) == pytest.approx(dense_error, rel=1e-4)
    lsa.save(tmp_path / "lsa")
    np.testing.assert_allclose(load(tmp_path / "lsa").transform(X), lsa.transform(X), atol=1e-6)
    with pytest.raises(DataError, match=f"must be between 1 and {X.shape[1] - 1}"):
        LSA(n_components=X.shape[1]).fit(X)


def test_multinomial_loss_is_the_cross_entropy_of_each_rows_distribution():
    import torch

    from aelab.objectives import reconstruction_loss

    logits = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    counts = torch.tensor([[1.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    log_q = torch.log_softmax(logits[0], 0)
    expected = -(0.25 * log_q[0] + 0.75 * log_q[2]) / 2  # the empty second row costs nothing
    assert float(reconstruction_loss("multinomial", logits, counts, "softmax")) == pytest.approx(float(expected))


def test_document_auto_encoder_with_a_softmax_output():
    from aelab import AutoEncoder

    rng = np.random.default_rng(0)
    topics = rng.dirichlet(np.full(30, 0.1), size=3)  # three topics, each a word distribution
    labels = rng.integers(0, 3, 300)
    counts = np.stack([rng.multinomial(50, topics[t]) for t in labels]).astype(np.float32)
    ae = AutoEncoder(
        n_components=2, hidden_layer_sizes=(32,), output_activation="softmax", epochs=30, batch_size=32, random_state=0
    ).fit(counts)
    assert ae.loss_ == "multinomial" and ae.mean_ is None  # counts are not standardised
    assert ae.history_[-1]["loss"] < 0.8 * ae.history_[0]["loss"]
    recon = ae.reconstruct(counts)
    np.testing.assert_allclose(recon.sum(1), counts.sum(1), rtol=1e-4)  # expected counts of each document
    np.testing.assert_allclose(ae.inverse_transform(ae.transform(counts[:3])).sum(1), 1.0, rtol=1e-5)
    with pytest.raises(DataError, match="multinomial"):
        AutoEncoder(loss="multinomial", output_activation="linear", epochs=1).fit(counts)
    with pytest.raises(DataError, match="multinomial"):
        AutoEncoder(output_activation="softmax", epochs=1).fit(counts - 1)


def test_log_input_encodes_log_counts_and_reconstructs_the_counts(tmp_path):
    import torch

    from aelab import AutoEncoder, load

    rng = np.random.default_rng(1)
    counts = rng.poisson(rng.gamma(0.3, 5.0, size=(120, 20))).astype(np.float32)
    ae = AutoEncoder(
        n_components=3, hidden_layer_sizes=(16,), log_input=True, output_activation="softmax", epochs=3, random_state=0
    ).fit(counts)
    with torch.no_grad():
        expected = ae.module_.encoder(torch.log1p(torch.from_numpy(counts))).numpy()
    np.testing.assert_allclose(ae.transform(counts), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ae.reconstruct(counts).sum(1), counts.sum(1), rtol=1e-4)  # counts come back
    ae.save(tmp_path / "ae")
    np.testing.assert_allclose(load(tmp_path / "ae").transform(counts), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match="log_input"):
        AutoEncoder(log_input=True, epochs=1).fit(counts - 10)
