"""The explorer in a real headless Chromium (Playwright with Debian's `chromium` package): the
map draws every point, hovering shows an item, clicking empty space decodes there, an uploaded
image lists neighbours. Screenshots of the views go to test-artifacts/ (look at them)."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aelab
from conftest import serve_in_thread

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium: install Debian's (apt-get install chromium) to run the browser tests"
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def served():
    from aelab.serve import Explorer, create_app

    ds = aelab.datasets.load("digits")
    model = aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(64,), epochs=30, random_state=0)
    model.fit(ds.train.X, image_shape=ds.image_shape)
    X, y = np.concatenate([ds.train.X, ds.test.X]), np.concatenate([ds.train.y, ds.test.y])
    address, stop = serve_in_thread(create_app(Explorer(model, X, y, image_shape=ds.image_shape, name="digits")))
    yield address, ds, model
    stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _open(browser, address):
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    page.goto(address)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page


@pytest.fixture(scope="module")
def page(served, browser):
    return _open(browser, served[0])


def test_the_maps_draw_every_point(page):
    assert page.get_attribute("#ae", "data-drawn") == "1797"
    assert page.get_attribute("#pca", "data-drawn") == "1797"
    page.screenshot(path=ARTIFACTS / "explorer-maps.png")


def test_hovering_a_point_shows_its_item(page):
    ae = page.locator("#ae")
    box = ae.bounding_box()
    point = page.evaluate(
        "() => { const v = state.views.ae; const [x, y] = v.toPixel(...v.points[0]); return [x, y]; }"
    )
    page.mouse.move(box["x"] + point[0], box["y"] + point[1])
    page.wait_for_selector("#tip img", state="visible")
    item = page.get_attribute("#tip", "data-item")
    page.wait_for_function(f"document.querySelector('#tip .caption').textContent.includes('(item {item})')")
    page.screenshot(path=ARTIFACTS / "explorer-hover.png")


def test_clicking_empty_space_decodes_there(page, served):
    """The image shown is the decoder's output at the code under the click."""
    model = served[2]
    page.mouse.move(0, 0)
    corner = page.locator("#ae").bounding_box()
    page.mouse.click(corner["x"] + 3, corner["y"] + 3)  # the map's corner is padding: no point there
    page.wait_for_function("document.getElementById('decoded').naturalWidth === 8")
    x, y = map(float, page.get_attribute("#decoded", "data-point").split(","))
    assert [x, y] == pytest.approx(page.evaluate("() => state.views.ae.toData(3, 3)"))
    shown = page.evaluate(
        """() => {
        const img = document.getElementById('decoded'), canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const context = canvas.getContext('2d');
        context.drawImage(img, 0, 0);
        return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data);
    }"""
    )
    shown = np.array(shown, np.float32).reshape(8, 8, 4)[..., 0] / 255  # grey: red = green = blue
    expected = model.inverse_transform(np.array([[x, y]], np.float32)).reshape(8, 8)
    assert np.abs(shown - expected).max() <= 1 / 255 + 1e-6
    assert expected.std() > 0.05  # a real image, not a blank that any decoding would match
    page.screenshot(path=ARTIFACTS / "explorer-decoded.png")


def test_clicking_two_items_shows_neighbours_reconstructions_and_the_line_between(page):
    box = page.locator("#ae").bounding_box()
    for i in (0, 1):
        x, y = page.evaluate(f"() => state.views.ae.toPixel(...state.views.ae.points[{i}])")
        page.mouse.click(box["x"] + x, box["y"] + y)
        page.wait_for_selector("#reconstruction img")
    page.wait_for_function("document.getElementById('line') && document.getElementById('line').naturalWidth > 0")
    assert page.locator("#reconstruction img").count() == 3 and page.locator(".hits.code figure").count() == 10
    page.screenshot(path=ARTIFACTS / "explorer-item.png", full_page=True)


def test_the_grid_button_overlays_decoded_images_on_the_visible_area(page):
    page.click("#grid")
    page.wait_for_selector("#ae[data-overlay='1']")
    page.screenshot(path=ARTIFACTS / "explorer-grid.png")


def test_uploading_an_image_lists_neighbours(page, served, tmp_path):
    ds = served[1]
    query = tmp_path / "query.png"
    Image.fromarray(np.round(ds.test.X[0] * 255).astype(np.uint8).reshape(8, 8)).save(query)
    page.set_input_files("#upload", str(query))
    page.wait_for_selector(".hits.code figure")
    assert page.locator(".hits.code figure").count() == 10 and page.locator(".hits.pca figure").count() == 10
    page.screenshot(path=ARTIFACTS / "explorer-search.png")


def test_a_text_query_lists_documents_and_their_topic(browser):
    from aelab.serve import DocumentExplorer, create_app
    from aelab.text import DocumentSearch
    from test_document_search import FAST, corpus

    engine = DocumentSearch.build(corpus(15, 0), n_components=2, **FAST)
    address, stop = serve_in_thread(create_app(DocumentExplorer(engine, name="topics")))
    try:
        page = _open(browser, address)
        assert page.get_attribute("#ae", "data-drawn") == "45" and page.get_attribute("#pca", "data-drawn") == "45"
        page.fill("#query", "rocket orbit moon launch")
        page.click("#query-form button")
        page.wait_for_selector("ol.documents li")
        assert page.locator("ol.documents li").count() == 10
        assert page.inner_text("#topics").startswith("predicted topic: space")
        assert "by cosine similarity" in page.inner_text("#neighbours h3")
        page.screenshot(path=ARTIFACTS / "explorer-text.png")
    finally:
        stop()


def test_the_unusual_items_view_ranks_items_and_its_slider_counts_the_flagged(page):
    page.wait_for_selector("#unusual:not([hidden]) #unusual-items figure img")
    assert page.locator("#unusual-items figure").count() == 24
    at_threshold = int(page.get_attribute("#flagged", "data-flagged"))
    assert 0 < at_threshold < 1797
    page.check("#by-score")
    slider = page.locator("#threshold")
    slider.evaluate("(s) => { s.value = s.min; s.dispatchEvent(new Event('input')); }")
    assert int(page.get_attribute("#flagged", "data-flagged")) > at_threshold
    slider.evaluate("(s) => { s.value = s.max; s.dispatchEvent(new Event('input')); }")
    assert int(page.get_attribute("#flagged", "data-flagged")) == 0
    slider.evaluate("(s) => { s.value = state.unusual.threshold; s.dispatchEvent(new Event('input')); }")
    page.locator("#unusual").scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "explorer-unusual.png", full_page=True)
    page.uncheck("#by-score")
    page.evaluate("window.scrollTo(0, 0)")


def test_the_explorer_over_a_milvus_index_draws_its_items_and_searches_through_milvus(browser, tmp_path):
    pytest.importorskip("milvus_lite")
    from aelab.jobs import DataOptions, IndexRequest, index
    from aelab.serve import create_app, open_explorer

    ds = aelab.datasets.load("digits")
    aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(32,), epochs=5, random_state=0).fit(
        ds.train.X, image_shape=ds.image_shape
    ).save(tmp_path / "ae")
    request = IndexRequest(DataOptions("digits"), out=tmp_path / "idx", model=tmp_path / "ae", engine="milvus://c.db/d")
    index(request).index.close()
    explorer, name = open_explorer(tmp_path / "idx")
    assert name == "items of index idx (vectors in Milvus Lite c.db)"
    address, stop = serve_in_thread(create_app(explorer))
    try:
        page = _open(browser, address)
        assert page.get_attribute("#ae", "data-drawn") == "1437"
        page.evaluate("() => pick(7)")
        page.wait_for_selector(".hits.code figure")
        assert "Euclidean distance" in page.inner_text("#neighbours h4")
        shown = page.locator(".hits.code figure").count()
        found = explorer.indexes["code"].query(explorer.codes[7:8], 11)
        assert shown == 10 and found.ids[0][0] == "train:7"
        page.screenshot(path=ARTIFACTS / "explorer-milvus-index.png")
    finally:
        stop()
        explorer.indexes["code"].close()
