"""The explorer's API (`aelab serve`), through FastAPI's test client: every endpoint on a small
trained model, and the bad requests, each a 4xx with a one-line reason while the server goes on."""

import io
import json

import numpy as np
import pytest
from PIL import Image

import aelab
from aelab.serve import Explorer, create_app

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    ds = aelab.datasets.load("digits")
    model = aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(64,), epochs=30, random_state=0)
    model.fit(ds.train.X, image_shape=ds.image_shape)
    folder = tmp_path_factory.mktemp("served") / "model"
    model.save(folder)
    return ds, model, folder


@pytest.fixture(scope="module")
def client(digits_model):
    ds, model, _ = digits_model
    explorer = Explorer(model, ds.test.X, ds.test.y, ids=ds.test.ids, image_shape=ds.image_shape, name="digits")
    return TestClient(create_app(explorer))


def _png(answer) -> np.ndarray:
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    return _png_bytes(answer.content)


def _png_bytes(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def test_info_and_the_two_maps_hold_every_item(client):
    info = client.get("/api/info").json()
    assert info["items"] == 360 and info["code_size"] == 2 and info["image_shape"] == [8, 8]
    assert info["labels"] == [str(d) for d in range(10)]
    maps = client.get("/api/map").json()
    assert len(maps["ae"]) == len(maps["pca"]) == len(maps["labels"]) == 360
    assert maps["ae_view"] == "the 2-D code"


def test_items_images_decoding_and_grids_are_pngs_of_the_items_shape(client, digits_model):
    ds = digits_model[0]
    assert client.get("/api/items/5").json() == {"position": 5, "id": str(ds.test.ids[5]), "label": str(ds.test.y[5])}
    np.testing.assert_array_equal(
        _png(client.get("/api/items/5/image.png")), np.round(ds.test.X[5] * 255).reshape(8, 8)
    )
    x, y = client.get("/api/map").json()["ae"][5]
    decoded = _png(client.get(f"/api/decode.png?x={x}&y={y}"))
    reconstruction = _png(client.get("/api/items/5/reconstruction/ae.png"))
    assert decoded.shape == (8, 8) and np.abs(decoded.astype(int) - reconstruction).max() <= 1  # its code's image
    assert _png(client.get("/api/grid.png?x0=-1&x1=1&y0=-1&y1=1&n=4")).shape == (4 * 9 - 1, 4 * 9 - 1)
    assert _png(client.get("/api/interpolation.png?a=0&b=1&steps=5")).shape == (8, 5 * 9 - 1)


@pytest.mark.parametrize("beside", ["pca", "pixels"])
def test_neighbours_by_code_beside_pca_or_pixels_leave_out_the_item_itself(client, beside):
    found = client.get(f"/api/items/7/neighbours?k=5&beside={beside}").json()
    assert list(found) == ["code", beside]
    for space in found:
        positions = [hit["position"] for hit in found[space]["items"]]
        assert len(positions) == 5 and 7 not in positions and found[space]["ms"] >= 0
        scores = [hit["score"] for hit in found[space]["items"]]
        assert scores == sorted(scores) and found[space]["score"] == "Euclidean distance"  # nearest first


def test_an_uploaded_image_finds_its_own_item_first_by_pixels(client, digits_model):
    ds = digits_model[0]
    buffer = io.BytesIO()
    Image.fromarray(np.round(ds.test.X[11] * 255).astype(np.uint8).reshape(8, 8)).resize((32, 32)).save(buffer, "PNG")
    upload = {"file": ("q.png", buffer.getvalue(), "image/png")}
    found = client.post("/api/neighbours?k=3&beside=pixels", files=upload).json()
    assert found["pixels"]["items"][0]["position"] == 11


def test_the_reconstruction_errors_put_the_auto_encoder_beside_pca(client, digits_model):
    ds, model, _ = digits_model
    answer = client.get("/api/items/3/reconstruction").json()
    x = ds.test.X[3:4]
    assert answer["errors"]["ae"] == pytest.approx(float(((model.reconstruct(x) - x) ** 2).sum()), rel=1e-5)
    assert answer["pca_components"] == 2 and answer["errors"]["pca"] > 0
    explorer = Explorer(model, ds.test.X, ds.test.y, image_shape=ds.image_shape)
    assert explorer.reconstruction(3) is explorer.reconstruction("3")  # the page's four requests compute it once


def test_unusual_items_are_ranked_by_the_models_scores_with_its_threshold(client, digits_model):
    ds, model, _ = digits_model
    answer = client.get("/api/unusual?k=5").json()
    np.testing.assert_allclose(answer["scores"], model.anomaly_scores(ds.test.X), atol=1e-4)
    assert answer["threshold"] == pytest.approx(-model.offset_, abs=1e-4) and answer["contamination"] == "auto"
    ranked = [hit["score"] for hit in answer["ranked"]]
    assert len(ranked) == 5 and ranked == sorted(ranked, reverse=True) and ranked[0] == max(answer["scores"])
    worst = answer["ranked"][0]["position"]
    heat = _png(client.get(f"/api/items/{worst}/error.png"))
    assert heat.shape == (8, 8, 3)
    best = int(np.argmin(answer["scores"]))  # the item rebuilt best is darker than the worst
    assert _png(client.get(f"/api/items/{best}/error.png")).sum() < heat.sum()
    assert client.get("/api/info").json()["anomalies"] is True


def test_a_model_saved_before_anomaly_scores_is_explored_without_them(digits_model):
    import copy

    ds, model, _ = digits_model
    older = copy.copy(model)
    older.anomaly_reference_ = None
    client = TestClient(create_app(Explorer(older, ds.test.X, ds.test.y, image_shape=ds.image_shape)))
    assert client.get("/api/info").json()["anomalies"] is False
    answer = client.get("/api/unusual")
    assert answer.status_code == 400 and "train it again" in answer.json()["detail"]


@pytest.mark.parametrize(
    "method, url, kw, status, says",
    [
        ("get", "/api/items/360", {}, 404, "no item 360: items are numbered 0 to 359"),
        ("get", "/api/items/-1/image.png", {}, 404, "no item -1"),
        ("get", "/api/items/abc", {}, 422, "item: Input should be a valid integer"),
        ("get", "/api/items/1/neighbours?k=0", {}, 422, "k: Input should be greater than or equal to 1"),
        ("get", "/api/items/1/neighbours?beside=labels", {}, 422, "beside: Input should be 'pca' or 'pixels'"),
        ("get", "/api/grid.png?x0=0&x1=1&y0=0&y1=1&n=99", {}, 422, "n: Input should be less than or equal to 32"),
        ("get", "/api/decode.png?x=nan&y=0", {}, 400, "a point of the map must have finite coordinates"),
        ("get", "/api/items/1/reconstruction/other.png", {}, 404, "no reconstruction 'other'"),
        ("get", "/api/unusual?k=1000", {}, 422, "k: Input should be less than or equal to 100"),
        ("get", "/api/items/999/error.png", {}, 404, "no item 999"),
        (
            "post",
            "/api/neighbours",
            {"files": {"file": ("q.png", b"not an image", "image/png")}},
            400,
            "cannot be read",
        ),
        ("post", "/api/neighbours", {"files": {"file": ("q.png", b"\0" * (8 * 2**20 + 1))}}, 413, "over 8,388,608"),
    ],
    ids=[
        "past the end",
        "negative",
        "not a number",
        "k 0",
        "beside what",
        "grid too big",
        "nan",
        "unknown",
        "unusual k",
        "error map of no item",
        "not image",
        "too big",
    ],
)
def test_a_bad_request_is_a_4xx_with_one_line_and_the_server_goes_on(client, method, url, kw, status, says):
    answer = getattr(client, method)(url, **kw)
    assert answer.status_code == status
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and says in detail
    assert client.get("/api/items/0").status_code == 200


def test_serving_writes_nothing_into_the_model_folder(digits_model):
    ds, _, folder = digits_model
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    explorer = Explorer(aelab.load(folder), ds.test.X, ds.test.y, image_shape=ds.image_shape)
    client = TestClient(create_app(explorer))
    for url in ("/api/map", "/api/items/1/neighbours", "/api/decode.png?x=0&y=0", "/"):
        assert client.get(url).status_code == 200
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before


def test_the_page_and_its_script_are_served_and_the_api_is_documented(client):
    assert "aelab explorer" in client.get("/").text
    assert "fetch" in client.get("/explorer.js").text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/map", "/api/decode.png", "/api/neighbours", "/api/items/{item}/neighbours"} <= set(paths)


def test_aelab_serve_explores_the_data_it_names_and_warns_off_this_machine(digits_model, tmp_path, monkeypatch, capsys):
    import aelab.serve
    from aelab.cli import main

    _, _, folder = digits_model
    served = {}
    monkeypatch.setattr(aelab.serve, "run", lambda explorer, host, port: served.update(n=len(explorer), host=host))
    assert main(["serve", str(folder), "--data", "digits", "--split", "test"]) == 0
    assert served == {"n": 360, "host": "127.0.0.1"} and "warning" not in capsys.readouterr().err
    assert main(["serve", str(folder), "--data", "digits", "--host", "0.0.0.0"]) == 0
    assert served["n"] == 1797 and "aelab: warning: listening on 0.0.0.0" in capsys.readouterr().err
    assert main(["train", "--model", "pca", "--data", "digits", "--out", str(tmp_path / "pca")]) == 0
    capsys.readouterr()
    assert main(["serve", str(tmp_path / "pca"), "--data", "digits"]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"aelab: error: {tmp_path / 'pca'} is not an auto-encoder; serve a model trained with 'aelab train'"
    )


@pytest.fixture(scope="module")
def news(tmp_path_factory):
    from aelab.serve import DocumentExplorer
    from aelab.text import DocumentSearch
    from test_document_search import FAST, corpus

    engine = DocumentSearch.build(corpus(15, 0), n_components=3, **FAST)
    folder = engine.save(tmp_path_factory.mktemp("text") / "news-search")
    return folder, TestClient(create_app(DocumentExplorer(DocumentSearch.load(folder), name="news")))


def test_a_document_search_is_explored_by_query_with_its_topic_and_maps(news):
    _, client = news
    info = client.get("/api/info").json()
    assert info["kind"] == "documents" and info["items"] == 45 and info["models"] == ["autoencoder", "lsa"]
    maps = client.get("/api/map").json()
    assert set(maps["maps"]) == {"document auto-encoder", "LSA"} and all(len(v) == 45 for v in maps["maps"].values())
    assert maps["view"] == "the first two principal components of the 3-D codes" and len(maps["labels"]) == 45
    found = client.get("/api/search", params={"q": "rocket orbit launch moon", "k": 5}).json()
    assert len(found["hits"]) == 5 and found["topics"][0][0] == "space" and found["ms"] >= 0
    assert found["score"] == "cosine similarity"  # what the page heads the scores with
    first = found["hits"][0]
    assert client.get(f"/api/items/{first['position']}").json()["first_line"] == first["first_line"]
    for params, status, says in (
        ({"q": "   "}, 400, "the query is empty"),
        ({"q": "moon", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"q": "moon", "model": "bert"}, 400, "this search holds the models autoencoder, lsa, not 'bert'"),
    ):
        answer = client.get("/api/search", params=params)
        assert answer.status_code == status and says in answer.json()["detail"]


def test_aelab_serve_opens_a_document_search_folder_without_data(news, monkeypatch, capsys):
    import aelab.serve
    from aelab.cli import main

    folder, _ = news
    served = {}
    monkeypatch.setattr(aelab.serve, "run", lambda explorer, host, port: served.update(n=len(explorer)))
    assert main(["serve", str(folder)]) == 0
    assert served == {"n": 45} and "explorer of 45 documents of news-search" in capsys.readouterr().out


def test_many_requests_at_once_get_the_answers_they_get_one_at_a_time(client, digits_model):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from conftest import serve_in_thread

    ds, model, _ = digits_model
    address, stop = serve_in_thread(create_app(Explorer(model, ds.test.X, ds.test.y, image_shape=ds.image_shape)))
    urls = [f"/api/items/{i}/neighbours?k=5" for i in range(40)] + [
        f"/api/decode.png?x={i / 10}&y=0" for i in range(40)
    ]
    try:
        alone = [client.get(u).content for u in urls]

        def fetch(url):
            with httpx.Client(base_url=address) as http:
                return http.get(url)

        with ThreadPoolExecutor(16) as pool:
            together = list(pool.map(fetch, urls))
    finally:
        stop()
    assert all(a.status_code == 200 for a in together)
    for url, a, b in zip(urls, alone, together):
        if "neighbours" in url:  # the times differ; the items and distances must not
            assert _hits(json.loads(a)) == _hits(b.json())
        else:  # decoded in a batch, a pixel may round the other way
            assert np.abs(_png_bytes(a).astype(int) - _png(b)).max() <= 1


def test_the_worker_runs_what_arrives_while_it_is_busy_as_one_batch_and_a_bad_argument_fails_alone():
    import asyncio
    import time

    from aelab.serve.batches import Worker

    calls = []

    def scaled(arguments, scale):
        calls.append((list(arguments), scale))
        if "bad" in arguments:
            raise ValueError("a bad argument")
        time.sleep(0.05)
        return [a * scale for a in arguments]

    async def requests():
        worker = Worker()
        first = asyncio.create_task(worker.batch(scaled, 1, 2))
        await asyncio.sleep(0.01)  # the worker is busy with the first: the others gather
        rest = [worker.batch(scaled, a, 2) for a in (2, 3, "bad", 4)] + [worker.batch(scaled, 5, 10)]
        answers = await asyncio.gather(first, *rest, return_exceptions=True)
        worker.close()
        return answers

    answers = asyncio.run(requests())
    assert answers[:3] == [2, 4, 6] and isinstance(answers[3], ValueError) and answers[4:] == [8, 50]
    assert calls == [([1], 2), ([2, 3, "bad", 4], 2), ([2], 2), ([3], 2), (["bad"], 2), ([4], 2), ([5], 10)]


def test_a_batch_of_searches_or_decodings_answers_what_each_alone_does(digits_model):
    ds, model, _ = digits_model
    explorer = Explorer(model, ds.test.X, ds.test.y, image_shape=ds.image_shape)
    rows = ds.train.X[:5]
    together = explorer.neighbours_of_rows(rows, k=4)
    for found, row in zip(together, rows):  # a batch's codes may differ from one row's in the last bit
        alone = _hits(explorer.neighbours_of_rows(row, k=4)[0])
        assert [p for p, _ in _hits(found)] == [p for p, _ in alone]
        np.testing.assert_allclose([s for _, s in _hits(found)], [s for _, s in alone], atol=2e-5)
    assert _hits(explorer.neighbours_of_items([3, 8], k=4)[1]) == _hits(explorer.neighbours(8, k=4))
    points = [(0.1, 0.2), (-0.3, 0.5), (1.0, -1.0)]
    for image, (x, y) in zip(explorer.decode_points(points), points):
        np.testing.assert_allclose(image, explorer.decode(x, y), atol=1e-6)


def _hits(found: dict) -> list:
    return [(h["position"], h["score"]) for space in ("code", "pca") for h in found[space]["items"]]


def test_the_explorer_over_an_index_searches_through_it_and_decodes_items_it_cannot_read(digits_model, tmp_path):
    """An index of a .npy collection by l2 keeps the codes themselves: without --data, its items are
    what the model decodes from them; searches by code are the index's own answers."""
    from aelab.jobs import DataOptions, IndexRequest, index
    from aelab.serve import open_explorer

    ds, model, folder = digits_model
    np.save(tmp_path / "rows.npy", ds.test.X)
    built = index(
        IndexRequest(DataOptions(str(tmp_path / "rows.npy")), out=tmp_path / "idx", model=folder, metric="l2")
    )
    explorer, name = open_explorer(tmp_path / "idx")
    assert name == "items of index idx" and len(explorer) == len(built.index) == 288  # the .npy's training split
    np.testing.assert_allclose(explorer.X, model.inverse_transform(built.index.vectors()), atol=1e-6)
    client = TestClient(create_app(explorer))
    hits = client.get("/api/items/4/neighbours", params={"k": 5}).json()["code"]
    expected = built.index.query(built.index.vector(4), 6)
    assert [h["id"] for h in hits["items"]] == [i for i in expected.ids[0] if i != "train:4"][:5]
    assert hits["score"] == "Euclidean distance"

    read = open_explorer(tmp_path / "idx", DataOptions(str(tmp_path / "rows.npy")))[0]  # --data: the pixels
    training_split = DataOptions(str(tmp_path / "rows.npy")).load().train.X
    np.testing.assert_array_equal(read.X[:3], training_split[[int(i.removeprefix("train:")) for i in read.ids[:3]]])

    index(IndexRequest(DataOptions(str(tmp_path / "rows.npy")), out=tmp_path / "cos", model=folder, metric="cosine"))
    with pytest.raises(aelab.errors.AelabError, match="give --data: the collection the index was built from"):
        open_explorer(tmp_path / "cos")
    index(IndexRequest(DataOptions("digits"), out=tmp_path / "pixels", space="pixels"))
    with pytest.raises(aelab.errors.AelabError, match="without an auto-encoder"):
        open_explorer(tmp_path / "pixels")
