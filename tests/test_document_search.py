import json

import numpy as np
import pytest

from aelab import DocumentModel, load
from aelab.cli import main
from aelab.errors import DataError, ParameterError
from aelab.search import neighbour_agreement
from aelab.text import Documents, DocumentSearch, first_line, load_text, topic_shares
from conftest import SHARED_DATA, assert_drawn

NEWS = SHARED_DATA / "20newsgroups" / "20news-bydate.tar.gz"
TOPICS = {
    "space": "rocket orbit launch moon shuttle nasa satellite astronaut planet mission".split(),
    "cars": "engine wheel brake driver highway fuel tire dealer clutch sedan".split(),
    "cooking": "recipe oven flour butter sugar garlic onion bake kitchen spoon".split(),
}
COMMON = "people think really good time make know".split()


def corpus(n_per_topic: int, seed: int) -> Documents:
    """Short documents, each mostly words of its topic, some shared words, varied length."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for topic, words in TOPICS.items():
        for _ in range(n_per_topic):
            n = int(rng.integers(5, 30))
            texts.append(" ".join(rng.choice(words + COMMON, size=n, p=[0.8 / 10] * 10 + [0.2 / 7] * 7)))
            labels.append(topic)
    return Documents(texts, [f"{topic}/{i}" for i, topic in enumerate(labels)], np.array(labels))


FAST = dict(hidden_layer_sizes=(32,), epochs=25, batch_size=16, learning_rate=3e-3, random_state=0)


def test_document_autoencoder_codes_keep_topics_apart_and_survive_saving(tmp_path):
    train, test = corpus(40, 0), corpus(10, 1)
    model = DocumentModel(n_components=3, **FAST).fit(train.texts)
    assert model.code_model_.log_input and model.code_model_.loss_ == "multinomial"
    Z_train, Z_test = model.transform(train.texts), model.transform(test.texts)
    # nearest training document of each test document (cosine) is on its topic
    a = Z_test / np.linalg.norm(Z_test, axis=1, keepdims=True)
    b = Z_train / np.linalg.norm(Z_train, axis=1, keepdims=True)
    assert (train.labels[np.argmax(a @ b.T, 1)] == test.labels).mean() > 0.9
    assert model.transform("rocket orbit").shape == (1, 3)  # one string is one document
    model.save(tmp_path / "doc")
    back = load(tmp_path / "doc")
    np.testing.assert_array_equal(back.transform(test.texts), Z_test)
    assert back.vocabulary == model.vocabulary
    with pytest.raises(DataError, match="strings"):
        model.transform([1, 2])


def test_lsa_document_model_uses_tfidf():
    train = corpus(20, 0)
    model = DocumentModel(n_components=2, kind="lsa", random_state=0).fit(train.texts)
    assert model.weighting_ == "tfidf" and model.transform(train.texts).shape == (60, 2)
    with pytest.raises(ParameterError, match="kind must be one of"):
        DocumentModel(kind="lda").fit(train.texts)


def test_search_returns_neighbours_and_topic_and_round_trips(tmp_path):
    engine = DocumentSearch.build(corpus(30, 0), n_components=3, **FAST)
    for model in ("autoencoder", "lsa"):
        result = engine.search("the shuttle launch put a satellite in orbit", k=5, model=model)
        assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
        assert result.topics[0][0] == "space" and result.topics[0][1] >= 0.8
        assert all(a.score >= b.score for a, b in zip(result.hits, result.hits[1:]))
    engine.save(tmp_path / "news")
    back = DocumentSearch.load(tmp_path / "news")
    queries = ["butter and flour in the oven", "new brake pads for the sedan"]
    assert [r.as_dict() for r in back.search(queries)] == [r.as_dict() for r in engine.search(queries)]
    assert [r.topics[0][0] for r in back.search(queries)] == ["cooking", "cars"]


def test_neighbour_agreement_and_topic_shares_by_hand():
    points = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.5]])
    labels = np.array(["a", "a", "b", "b", "b", "a"])
    # 1-NN: 0->1 a ok, 1->0 ok, 2->1 no, 3->4 ok, 4->3 ok, 5->4 no
    assert neighbour_agreement(points, labels, k=1) == pytest.approx(4 / 6)
    assert topic_shares(["b", "a", "b", None]) == [("b", 2 / 3), ("a", 1 / 3)]
    assert first_line("\n\n  Re: rockets  \nmore") == "Re: rockets" and len(first_line("x" * 500)) == 100


def _write_folder(root, docs: Documents) -> None:
    for text, label, i in zip(docs.texts, docs.labels, range(len(docs))):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i}.txt").write_text(text)


def test_cli_text_train_search_and_map(tmp_path, capsys):
    data = tmp_path / "docs"
    _write_folder(data, corpus(25, 0))
    common = ["--data", str(data), "--hidden", "32", "--epochs", "20", "--batch-size", "16", "--lr", "3e-3", "--quiet"]
    assert main(["text", "train", *common, "--out", str(tmp_path / "s2"), "--n-components", "2"]) == 0
    out = capsys.readouterr().out
    assert "precision at recall" in out and "autoencoder" in out and "lsa" in out
    meta = json.loads((tmp_path / "s2" / "search.json").read_text())
    assert meta["code_size"] == 2 and set(meta["info"]["metrics"]) == {"autoencoder", "lsa"}

    assert main(["text", "search", str(tmp_path / "s2"), "--query", "garlic onion recipe", "-k", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["hits"]) == 3 and result["topics"][0][0] == "cooking"
    assert main(["text", "search", str(tmp_path / "s2"), "--query", "garlic onion", "--model", "lsa"]) == 0
    assert "predicted topic: cooking" in capsys.readouterr().out

    assert main(["text", "map", str(tmp_path / "s2"), "--data", str(data), "--out", str(tmp_path / "map.png")]) == 0
    out = capsys.readouterr().out
    assert "share its topic" in out
    assert_drawn(tmp_path / "map.png", coloured=True)

    # a 3-D search cannot be mapped; an existing result is not overwritten; an empty query is refused
    assert main(["text", "train", *common, "--out", str(tmp_path / "s3"), "--n-components", "3"]) == 0
    capsys.readouterr()
    assert main(["text", "map", str(tmp_path / "s3"), "--data", str(data), "--out", str(tmp_path / "m3.png")]) == 1
    assert "needs 2-D codes" in capsys.readouterr().err
    assert main(["text", "train", *common, "--out", str(tmp_path / "s3")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert main(["text", "search", str(tmp_path / "s3"), "--query", "  "]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["text", "search", str(tmp_path / "nowhere"), "--query", "moon"]) == 1
    assert "no document search" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not NEWS.exists(), reason="20 Newsgroups not in ../shared/data")
def test_lsa_search_on_20_newsgroups_finds_the_topic():
    news = load_text(str(NEWS), strip_parts=("headers",))
    engine = DocumentSearch.build(news.train, n_components=50, models=("lsa",), random_state=0)
    result = engine.search("NASA launched the space shuttle into orbit", k=20, model="lsa")
    assert result.topics[0][0] == "sci.space"
    found = engine.index("lsa").query(engine.encode(news.test.texts[:500], "lsa"), 10)
    assert (found.labels == news.test.labels[:500, None]).mean() > 0.3  # 20 topics: chance is 0.05


def test_a_query_without_known_words_is_refused_and_few_known_words_are_counted(tmp_path, capsys):
    engine = DocumentSearch.build(corpus(20, 0), n_components=2, models=("lsa",), random_state=0)
    with pytest.raises(DataError, match="none of the query's words is in the vocabulary"):
        engine.search("zebra quokka xylophone", model="lsa")
    result = engine.search("zebra garlic quokka garlic", model="lsa")
    assert result.words_used == 2 and result.words == 4 and result.topics[0][0] == "cooking"
    engine.save(tmp_path / "s")
    assert main(["text", "search", str(tmp_path / "s"), "--model", "lsa", "--query", "quokka zebra"]) == 1
    assert "none of the query's words" in capsys.readouterr().err
    assert main(["text", "search", str(tmp_path / "s"), "--model", "lsa", "--query", "a garlic quokka"]) == 0
    assert "1 of the query's 2 words are in the vocabulary" in capsys.readouterr().out
