"""Hostile inputs: each bad file, option or folder gets exit status 1 and exactly one line on stderr
(from the CLI) or the right exception (from Python), never a traceback, never a silently wrong
answer; a model or index folder from someone else never makes aelab open a file outside it and
the paths the user named."""

from __future__ import annotations

import json
import struct
import sys

import numpy as np
import pytest
from PIL import Image

import aelab
from aelab.cli import main
from aelab.errors import DataError, ModelError, ParameterError
from aelab.search import Index, evaluate
from conftest import write_idx

OPENED: list[str] = []
_AUDITING: list[bool] = []


def _audit(event, args):
    if _AUDITING and event == "open" and isinstance(args[0], (str, bytes)):
        OPENED.append(str(args[0]))


sys.addaudithook(_audit)  # records every file opened while a test is "auditing"


def one_line_error(capsys, *argv) -> str:
    """Run ``aelab ARGV``; assert exit 1 with one line on stderr that is not a crash; return it."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 1, f"exit {code}: {err}"
    assert err.startswith("aelab: error: ") and err.count("\n") == 1, err
    assert "a bug in aelab" not in err, err  # the last-resort catch of a bug
    return err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    ds = aelab.datasets.load("digits")
    model = aelab.AutoEncoder(n_components=4, hidden_layer_sizes=(16,), epochs=3, random_state=0)
    model.fit(ds.train.X, ds.train.y, image_shape=ds.image_shape).save(folder / "model")
    assert main(["index", str(folder / "model"), "--data", "digits", "--out", str(folder / "index")]) == 0
    return folder


def copy_of(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def edit_json(path, edit):
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


# --- security: an index folder names files; aelab opens none of them ------------------------------
def resealed(index, name: str):
    """Record ``name``'s new checksum in the index's header, as a crafted folder (not a damaged one)
    would: the checksums catch damage, not intent."""
    from aelab.storage import file_digest

    edit_json(index / "index.json", lambda meta: meta["files"].update({name: file_digest(index / name)}))
    return index


def _pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_a_tampered_items_path_is_never_opened(trained, tmp_path, capsys):
    """Every item's path points at a file outside the index; the figure still shows the items of
    the collection (the same pixels as from the untouched index), and the file is never opened."""
    secret = tmp_path / "secret.png"
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(secret)

    def search(index, figure):
        return main(["search", str(index), "--query", str(trained / "q.npy"), "--figure", str(figure)])

    assert search(trained / "index", tmp_path / "clean.png") == 0
    index = copy_of(trained / "index", tmp_path / "index")
    items = json.loads((index / "items.json").read_text())
    items["paths"] = [str(secret)] * len(items["paths"])
    (index / "items.json").write_text(json.dumps(items))
    resealed(index, "items.json")
    OPENED.clear()
    _AUDITING.append(True)
    try:
        code = search(index, tmp_path / "tampered.png")
    finally:
        _AUDITING.clear()
    assert code == 0, capsys.readouterr().err
    assert any(p.endswith("items.json") for p in OPENED)  # the hook saw the index being read
    assert str(secret) not in OPENED
    np.testing.assert_array_equal(_pixels(tmp_path / "tampered.png"), _pixels(tmp_path / "clean.png"))


def test_a_tampered_data_spec_is_not_loaded(trained, tmp_path, capsys):
    secret = tmp_path / "secret"
    (secret / "a").mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.full((8, 8), 255, np.uint8)).save(secret / "a" / f"{i}.png")
    index = copy_of(trained / "index", tmp_path / "index")
    edit_json(index / "index.json", lambda m: m["info"].update(data=str(secret), data_dir=str(secret)))
    OPENED.clear()
    _AUDITING.append(True)
    try:
        err = one_line_error(capsys, "search", index, "--query", "train:1", "--figure", tmp_path / "f.png")
    finally:
        _AUDITING.clear()
    assert "name the collection the index was built from with --data" in err
    assert not [p for p in OPENED if p.startswith(str(secret))]
    argv = ["search", str(index), "--query", "train:1", "--figure", str(tmp_path / "f.png"), "--data", "digits"]
    assert main(argv) == 0


@pytest.fixture(autouse=True, scope="module")
def _query_file(trained):
    np.save(trained / "q.npy", aelab.datasets.load("digits").test.X[:1])


# --- bad data files: one line each ---------------------------------------------------------------------
def _idx_header(dims, magic=0x08):
    return bytes([0, 0, magic, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def _npy_claiming(path, shape):
    """A .npy file whose header claims ``shape`` (float32) over a few bytes of data."""
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    header = header.ljust(118) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64)


def _big_png(path, size=(20000, 20000)):
    """A PNG whose header says ``size`` (a decompression bomb's header, without the bomb)."""
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", size[0], size[1], 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


DATA_CASES = {
    "idx-overflow": (lambda p: (p / "x-idx3-ubyte").write_bytes(_idx_header([2**31, 2**31, 2**31])), "x-idx3-ubyte"),
    "idx-gz-overflow": (
        lambda p: (p / "x-idx3-ubyte.gz").write_bytes(__import__("gzip").compress(_idx_header([2**31] * 3))),
        "x-idx3-ubyte.gz",
    ),
    "idx-empty": (lambda p: write_idx(p / "x-idx3-ubyte", np.zeros((0, 3, 3))), "x-idx3-ubyte"),
    "idx-gz-bomb": (
        lambda p: (p / "x-idx3-ubyte.gz").write_bytes(
            __import__("gzip").compress(_idx_header([60000, 28, 28]) + b"\0" * 100)
        ),
        "x-idx3-ubyte.gz",
    ),
    "npy-0d": (lambda p: np.save(p / "x.npy", np.float32(3)), "x.npy"),
    "npy-terabytes": (lambda p: _npy_claiming(p / "x.npy", (10**7, 10**6)), "x.npy"),
    "npy-complex": (lambda p: np.save(p / "x.npy", np.ones((20, 4), np.complex64)), "x.npy"),
    "npy-huge-values": (lambda p: np.save(p / "x.npy", np.full((20, 4), 1e38, np.float32)), "x.npy"),
    "png-bomb": (lambda p: (p / "f" / "a").mkdir(parents=True) or _big_png(p / "f" / "a" / "big.png"), "f"),
}


@pytest.mark.parametrize(
    ("case", "command", "message"),
    [
        ("idx-overflow", "train", "is truncated"),
        ("idx-gz-overflow", "train", "--max-file-bytes"),
        ("idx-empty", "train", "no samples"),
        ("idx-gz-bomb", "train", "truncated"),
        ("npy-0d", "train", "one sample per row"),
        ("npy-terabytes", "train", "claims"),
        ("npy-complex", "train", "complex"),
        ("npy-huge-values", "pca", "too large"),
        ("png-bomb", "train", "--max-image-pixels"),
    ],
)
def test_bad_data_files_are_one_line(tmp_path, capsys, case, command, message):
    write, name = DATA_CASES[case]
    write(tmp_path)
    extra = ["--model", "pca", "--n-components", "2"] if command == "pca" else ["--epochs", "1"]
    err = one_line_error(capsys, "train", "--data", tmp_path / name, "--out", tmp_path / "m", *extra)
    assert message in err
    assert not (tmp_path / "m").exists()


def test_a_huge_query_image_is_one_line(trained, tmp_path, capsys):
    _big_png(tmp_path / "big.png")
    err = one_line_error(capsys, "search", trained / "index", "--query", tmp_path / "big.png")
    assert "--max-image-pixels" in err


# --- bad options: refused before any work ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--seed", "-1"], "--seed"),
        (["--batch-size", "1"], "--batch-size"),
        (["--weight-decay", "-1"], "--weight-decay"),
        (["--n-components", "0"], "--n-components"),
        (["--patience", "-1"], "--patience"),
        (["--n-components", "0", "--model", "pca"], "--n-components"),
        (["--device", "tpu"], "--device"),
    ],
)
def test_bad_training_options_are_refused_before_training(tmp_path, capsys, option, message):
    epochs = [] if "pca" in option else ["--epochs", "1"]  # PCA takes no epochs
    err = one_line_error(capsys, "train", "--data", "digits", "--out", tmp_path / "m", *epochs, *option)
    assert message in err
    assert not list(tmp_path.iterdir())  # no model, no checkpoint, no lock


def test_a_code_larger_than_pca_can_be_is_compared_with_the_largest_pca(tmp_path, capsys):
    argv = ["train", "--data", "digits", "--out", tmp_path / "m", "--epochs", "1", "--n-components", "10000"]
    assert main([str(a) for a in argv]) == 0
    assert "the largest PCA there is" in capsys.readouterr().out
    assert aelab.load(tmp_path / "m").code_size == 10000


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_a_device_the_machine_lacks_is_refused_before_the_data_is_read(tmp_path, capsys):
    err = one_line_error(capsys, "train", "--data", "no/such/data", "--out", tmp_path / "m", "--device", "cuda")
    assert "has no cuda" in err


def test_a_query_file_of_several_samples_and_zero_queries_are_refused(trained, tmp_path, capsys):
    np.save(tmp_path / "two.npy", np.zeros((2, 64), np.float32))
    assert "holds 2 samples" in one_line_error(capsys, "search", trained / "index", "--query", tmp_path / "two.npy")
    argv = ["evaluate-retrieval", "--index", trained / "index", "--queries", "digits", "--n-queries", "0"]
    assert "--n-queries" in one_line_error(capsys, *argv, "--out", tmp_path / "r")


@pytest.mark.parametrize("k", ["0", "-5"])
def test_search_k_below_one_is_refused(trained, capsys, k):
    assert "-k" in one_line_error(capsys, "search", trained / "index", "--query", "train:1", "-k", k)


@pytest.mark.parametrize(("option", "value"), [("--grid", "100000"), ("--sample", "100000000")])
def test_generate_requests_beyond_the_limit_are_one_line(trained, tmp_path, capsys, option, value):
    err = one_line_error(capsys, "generate", trained / "model", option, value, "--out", tmp_path / "g.png")
    assert option in err and "--max-images" in err


def test_index_overwrite_replaces_an_existing_index(trained, tmp_path, capsys):
    out = copy_of(trained / "index", tmp_path / "index")
    argv = ["index", "--space", "pixels", "--data", "digits", "--split", "test", "--out", str(out), "--overwrite"]
    assert main(argv) == 0
    assert len(Index.load(out)) == 360


# --- damaged or tampered model and index folders ------------------------------------------------------------
MODEL_EDITS = {
    "unknown parameter": lambda m: m["params"].update(no_such_parameter=1),
    "wrong type": lambda m: m["params"].update(n_components="four"),
    "missing key": lambda m: m.pop("fitted"),
    "negative shape": lambda m: m["fitted"].update(image_shape_=[-8, 8]),
    "features": lambda m: m["fitted"].update(n_features_in_=10**12),
}


@pytest.mark.parametrize("edit", sorted(MODEL_EDITS))
def test_a_damaged_config_is_one_line(trained, tmp_path, capsys, edit):
    model = copy_of(trained / "model", tmp_path / "model")
    edit_json(model / "config.json", MODEL_EDITS[edit])
    err = one_line_error(capsys, "encode", model, "--data", "digits", "--out", tmp_path / "c.npy")
    assert "is damaged" in err
    with pytest.raises(ModelError, match="is damaged"):
        aelab.load(model)


def test_a_deeply_nested_config_is_one_line(trained, tmp_path, capsys):
    model = copy_of(trained / "model", tmp_path / "model")
    (model / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    assert "is damaged" in one_line_error(capsys, "encode", model, "--data", "digits", "--out", tmp_path / "c.npy")


def test_weights_of_another_dtype_are_refused(trained, tmp_path):
    from safetensors.torch import load_file, save_file

    model = copy_of(trained / "model", tmp_path / "model")
    tensors = load_file(model / "model.safetensors")
    save_file({k: v.to(__import__("torch").int32) for k, v in tensors.items()}, model / "model.safetensors")
    with pytest.raises(ModelError, match="is damaged"):
        aelab.load(model)


def test_a_flipped_byte_in_a_weight_or_index_file_is_found(trained, tmp_path):
    for folder, name, load in [("model", "model.safetensors", aelab.load), ("index", "vectors.faiss", Index.load)]:
        copy = copy_of(trained / folder, tmp_path / folder)
        data = bytearray((copy / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (copy / name).write_bytes(bytes(data))
        with pytest.raises(ModelError, match="is damaged"):
            load(copy)


INDEX_EDITS = {
    "items without labels": ("items.json", lambda m: m.pop("labels")),
    "built as hnsw": ("index.json", lambda m: m.update(built_as="hnsw")),
    "ef_search text": ("index.json", lambda m: m["params"].update(ef_search="abc")),
    "count": ("index.json", lambda m: m.update(metric="manhattan")),
    "split elsewhere": ("index.json", lambda m: m["info"].update(split="../x")),
    "test size text": ("index.json", lambda m: m["info"].update(test_size="0.2")),
}


@pytest.mark.parametrize("edit", sorted(INDEX_EDITS))
def test_a_damaged_index_is_one_line(trained, tmp_path, capsys, edit):
    index = copy_of(trained / "index", tmp_path / "index")
    name, change = INDEX_EDITS[edit]
    edit_json(index / name, change)
    assert "is damaged" in one_line_error(capsys, "search", index, "--query", "train:1")


def test_a_file_linked_from_outside_the_folder_is_refused(trained, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text((trained / "model" / "config.json").read_text())
    (model / "model.safetensors").symlink_to(trained / "model" / "model.safetensors")
    with pytest.raises(ModelError, match="outside"):
        aelab.load(model)


# --- the Python API -------------------------------------------------------------------------------------------
def test_api_refusals():
    with pytest.raises(DataError, match="empty"):
        Index.build(np.zeros((0, 4), np.float32))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        aelab.PCA(2).transform(np.zeros((3, 4), np.float32))
    with pytest.raises(ParameterError, match="random_state"):
        aelab.AutoEncoder(random_state=-1).fit(np.zeros((10, 4), np.float32))


def test_uint8_images_are_scaled_as_the_loaders_scale_them():
    ds = aelab.datasets.load("digits")
    pixels = np.round(ds.train.X[:200] * 255).astype(np.uint8)
    model = aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=1, random_state=0).fit(pixels)
    assert model.mean_ is None and model.output_activation_ == "sigmoid"  # pixels in [0, 1], not standardised
    np.testing.assert_allclose(model.transform(pixels), model.transform(pixels / np.float32(255)), atol=1e-6)


def test_files_are_written_with_the_same_mode(trained):
    modes = {p.name: p.stat().st_mode & 0o777 for p in (trained / "model").iterdir()}
    assert len(set(modes.values())) == 1, modes


def test_resume_with_other_data_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.random((80, 6), dtype=np.float32), rng.random((80, 6), dtype=np.float32)
    ckpt = tmp_path / "m.checkpoint"

    def model():
        return aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=2, random_state=0)

    model().fit(a, checkpoint_dir=ckpt)  # a finished run's checkpoint, as a killed one leaves it
    for other in (b, a[::-1].copy()):  # another file of the same shape; the same rows split otherwise
        with pytest.raises(ModelError, match="other settings or data"):
            model().fit(other, checkpoint_dir=ckpt, resume=True)
    model().fit(a, checkpoint_dir=ckpt, resume=True)  # the same data resumes


def test_limits_are_raised_or_lowered_from_python_and_the_cli(tmp_path, capsys):
    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / f"{i}.png")
    with aelab.limits.limits(image_pixels=63):
        with pytest.raises(DataError, match=r"is 8x8 pixels: 64 is over the limit of 63 \(--max-image-pixels"):
            aelab.datasets.load(str(tmp_path / "images"))
    assert aelab.datasets.load(str(tmp_path / "images")).image_shape == (8, 8)  # the block's limit is gone
    with pytest.raises(ParameterError, match="--max-images must be a whole number >= 1"):
        aelab.limits.set_limits(images=0)
    argv = ["train", "--data", tmp_path / "images", "--out", tmp_path / "m", "--max-image-pixels", "10"]
    assert "over the limit of 10" in one_line_error(capsys, *argv)


def test_a_wrong_option_is_one_line_with_exit_1(capsys):
    for argv in (["train", "--epochs", "x"], ["frobnicate"], [], ["train", "--no-such-option"]):
        one_line_error(capsys, *argv)


def test_an_error_that_quotes_a_newline_is_still_one_line(trained, tmp_path, capsys):
    index = copy_of(trained / "index", tmp_path / "index")
    edit_json(index / "index.json", lambda m: m["info"].update(data="evil\nsecond line"))
    one_line_error(capsys, "search", index, "--query", "train:1", "--figure", tmp_path / "f.png")


def test_a_full_disk_is_one_line_and_leaves_the_old_model(trained, tmp_path, monkeypatch, capsys):
    import aelab.storage

    def full(*args, **kw):
        raise RuntimeError('Error while serializing: IoError(Os { code: 28, message: "No space left on device" })')

    model = copy_of(trained / "model", tmp_path / "model")
    monkeypatch.setattr(aelab.storage, "save_file", full)
    argv = ["train", "--data", "digits", "--out", model, "--overwrite", "--epochs", "1", "--hidden", "8"]
    assert "No space left on device" in one_line_error(capsys, *argv)
    assert aelab.load(model).code_size == 4  # the old model is intact
    monkeypatch.undo()  # space again: the rerun is not blocked by what the failed run left
    assert main([str(a) for a in argv]) == 0 and aelab.load(model).code_size == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_evaluate_samples_refuses_a_bad_request_before_training_its_judge(trained, tmp_path, capsys, monkeypatch):
    import aelab.generate.quality

    monkeypatch.setattr(aelab.generate.quality, "judge", lambda *a, **k: pytest.fail("the judge was trained"))
    err = one_line_error(capsys, "evaluate-samples", trained / "model", "--data", "digits", "--sample", "10000000")
    assert "--max-images" in err


# --- second pass: bad arguments from Python are one line naming the parameter --------------------------------
def _digits():
    ds = aelab.datasets.load("digits")
    return ds.train.X[:200], ds.train.y[:200]


def _fitted(**kw):
    X, _ = _digits()
    return aelab.AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=1, random_state=0, **kw)


API_REFUSALS = {
    "a code of 1e9": (lambda X, y: aelab.AutoEncoder(n_components=10**9).fit(X), "--max-model-bytes"),
    "hidden layers of 1e6": (lambda X, y: aelab.AutoEncoder(hidden_layer_sizes=(10**6, 10**6)).fit(X), "weights"),
    "a classifier of 1e9": (lambda X, y: aelab.Classifier(hidden_layer_sizes=(10**9,)).fit(X, y), "weights"),
    "conv channels of 1e5": (
        lambda X, y: aelab.ConvAutoEncoder(channels=(10**5, 10**5)).fit(X, image_shape=(8, 8)),
        "weights",
    ),
    "negative image shape": (lambda X, y: aelab.ConvAutoEncoder().fit(X, image_shape=(-8, -8)), "image_shape must"),
    "image shape of one side": (lambda X, y: aelab.AutoEncoder().fit(X, image_shape=(64,)), "image_shape must"),
    "hidden size text": (lambda X, y: aelab.AutoEncoder(hidden_layer_sizes=("a",)).fit(X), "hidden_layer_sizes must"),
    "hidden size fraction": (lambda X, y: aelab.AutoEncoder(hidden_layer_sizes=(1.5,)).fit(X), "hidden_layer_sizes"),
    "code size text": (lambda X, y: aelab.AutoEncoder(n_components="a").fit(X), "n_components must"),
    "PCA code size text": (lambda X, y: aelab.PCA(n_components="a").fit(X), "n_components must"),
    "ITQ code size text": (lambda X, y: aelab.ITQ(n_components="a").fit(X), "n_components must"),
    "kernel size text": (
        lambda X, y: aelab.ConvAutoEncoder(kernel_size="3").fit(X, image_shape=(8, 8)),
        "kernel_size must",
    ),
    "bits not a multiple of 8": (lambda X, y: aelab.AutoEncoder(binary=True, n_components=5).fit(X), "multiple of 8"),
    "a 5-D array": (lambda X, y: aelab.AutoEncoder().fit(np.zeros((20, 2, 2, 2, 2), np.float32)), "shape"),
}


@pytest.mark.parametrize("case", sorted(API_REFUSALS))
def test_bad_arguments_from_python_are_one_line_naming_them(case):
    call, says = API_REFUSALS[case]
    with pytest.raises((ParameterError, DataError), match=says):
        call(*_digits())


def test_the_cli_and_python_share_the_rule_of_bits(capsys, tmp_path):
    err = one_line_error(capsys, "train", "--data", "digits", "--binary", "12", "--out", tmp_path / "m")
    with pytest.raises(ParameterError) as python:
        aelab.AutoEncoder(binary=True, n_components=12).validate_params()
    assert err.split("must", 1)[1] == str(python.value).split("must", 1)[1] + "\n"


def test_the_ends_of_an_interpolation_are_checked_one_by_one():
    from aelab.generate import interpolate

    X, _ = _digits()
    model = _fitted().fit(X)
    for a, b, says in ((X[0][:10], X[1], "a has 10 values"), (X[0], X[1][:63], "b has 63 values"), (X[:2], X[1], "a")):
        with pytest.raises(DataError, match=says):
            interpolate(model, a, b)
    assert interpolate(model, X[0], X[1], 3)[0].shape == (3, 64)


def test_a_document_search_is_built_from_texts_or_refused_in_one_line():
    from aelab.text import DocumentSearch

    with pytest.raises(DataError, match="at least 2 documents"):
        DocumentSearch.build(["space shuttle"], n_components=2, epochs=1)
    for bad in ("space shuttle", None, [1, 2]):
        with pytest.raises(DataError, match="documents must be"):
            DocumentSearch.build(bad, n_components=2)
    texts = ["orbit rocket moon", "rocket moon launch", "oven flour bake", "bake sugar oven"]
    engine = DocumentSearch.build(texts, n_components=2, models=("lsa",), random_state=0)
    assert {hit.id for hit in engine.search("moon rocket", k=2, model="lsa").hits} == {"0", "1"}


def test_an_index_refuses_one_dimensional_vectors_zero_cosines_and_repeated_ids():
    rng = np.random.default_rng(0)
    V = rng.random((10, 4), dtype=np.float32)
    with pytest.raises(DataError, match="reshape"):
        Index.build(V[0])
    with pytest.raises(DataError, match="reshape"):
        Index.build(V).query(V[0])
    with pytest.raises(DataError, match="every vector of the index is all zeros"):
        Index.build(np.zeros((5, 4), np.float32))
    with pytest.raises(DataError, match="every query is all zeros"):
        Index.build(V).query(np.zeros((1, 4), np.float32))
    empty_document = np.vstack([V, np.zeros((1, 4), np.float32)])  # one among others: it scores 0
    found = Index.build(empty_document).query(np.vstack([V[:1], np.zeros((1, 4), np.float32)]), k=11)
    assert found.ids[0][0] == "0" and found.ids[0][-1] == "10" and (found.scores[1] == 0).all()
    assert len(Index.build(np.zeros((3, 4), np.float32), metric="l2")) == 3  # a distance needs no direction
    # an evaluation whose first query is an empty document times the queries that have a direction
    labelled = Index.build(V, labels=list("ab" * 5))
    queries = np.vstack([np.zeros((1, 4), np.float32), V[:3]])
    assert evaluate(labelled, queries, np.array(list("aaba")), ks=(1,), latency_queries=2)["latency_ms"]["median"] > 0
    with pytest.raises(DataError, match="'a' is given twice"):
        Index.build(V[:3], ids=["a", "b", "a"])
    with pytest.raises(DataError, match="'b' is given twice"):
        Index.build(V[:3], ids=["a", "b", "c"]).add(V[3:4], ids=["b"])


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.float64])
def test_pixels_in_0_to_255_are_refused_by_a_model_of_pixels_in_0_to_1(dtype):
    X, _ = _digits()
    pixels = np.round(X * 255).astype(np.uint8)
    for model in (_fitted().fit(pixels), _fitted().fit(X, image_shape=(8, 8))):
        assert model.pixels_
        with pytest.raises(DataError, match="pass pixels as uint8"):
            model.transform(pixels.astype(dtype))
        np.testing.assert_allclose(model.transform(pixels), model.transform(pixels / np.float32(255)), atol=1e-6)
    counts = _fitted().fit(np.random.default_rng(0).integers(0, 5, (100, 6)).astype(np.float32))
    assert not counts.pixels_ and counts.transform(np.full((2, 6), 7, np.float32)).shape == (2, 2)  # not pixels


# --- second pass: options that have no meaning for the input, values out of range ---------------------------
@pytest.fixture(scope="module")
def news(tmp_path_factory):
    folder = tmp_path_factory.mktemp("news")
    for label, words in (("space", "orbit rocket launch moon"), ("food", "oven bake flour sugar")):
        (folder / "texts" / label).mkdir(parents=True)
        for i in range(20):
            (folder / "texts" / label / f"{i}.txt").write_text(f"{words} {i}")
    argv = ["text", "train", "--data", folder / "texts", "--out", folder / "search", "--epochs", "2"]
    assert main([str(a) for a in [*argv, "--n-components", "2", "--quiet"]]) == 0
    return folder


NOT_FOR = {
    "serve documents --data": (
        ["serve", "{search}", "--data", "digits"],
        "--data has no meaning for a document search",
    ),
    "serve documents --split": (["serve", "{search}", "--split", "test"], "--split has no meaning"),
    "search --data": (["search", "{index}", "--query", "train:1", "--data", "digits"], "without --figure"),
    "generate --sample --box": (["generate", "{model}", "--sample", "4", "--box", "zero"], "--box has no meaning"),
    "generate --grid --density": (["generate", "{model}", "--grid", "4", "--density", "gmm"], "--density has no"),
    "generate --steps": (["generate", "{model}", "--sample", "4", "--steps", "5"], "--steps has no meaning"),
    "index --workers": (["index", "{model}", "--data", "digits", "--workers", "2"], "without --shards"),
    "index --n-components": (["index", "{model}", "--data", "digits", "--n-components", "5"], "--space code"),
    "index --add --metric": (["index", "--add", "{index}", "--data", "digits", "--metric", "l2"], "with --add"),
    "train pca --epochs": (["train", "--data", "digits", "--model", "pca", "--epochs", "5"], "for --model pca"),
    "train --channels": (["train", "--data", "digits", "--channels", "8-8"], "without --model conv"),
    "train conv --hidden": (["train", "--data", "digits", "--model", "conv", "--hidden", "64"], "for --model conv"),
    "train --workers": (["train", "--data", "digits", "--workers", "2"], "for data read into memory"),
    "text --binary --n-components": (
        ["text", "train", "--data", "{texts}", "--binary", "16", "--n-components", "4"],
        "with --binary 16",
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_FOR))
def test_an_option_without_meaning_for_the_input_is_refused(trained, news, tmp_path, capsys, case, monkeypatch):
    import aelab.serve

    monkeypatch.setattr(aelab.serve, "run", lambda *a: pytest.fail("the explorer started"))
    argv, says = NOT_FOR[case]
    where = dict(search=news / "search", texts=news / "texts", index=trained / "index", model=trained / "model")
    argv = [a.format(**where) for a in argv]
    if argv[0] in ("train", "index", "generate", "text") and "--add" not in argv:
        argv += ["--out", str(tmp_path / ("out.png" if argv[0] == "generate" else "out"))]
    assert says in one_line_error(capsys, *argv)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.png").exists()


OUT_OF_RANGE = {
    "index pca 0": (
        ["index", "{model}", "--space", "pca", "--data", "digits", "--n-components", "0"],
        "--n-components",
    ),
    "reconstruct -n 0": (["reconstruct", "{model}", "--data", "digits", "-n", "0"], "-n"),
    "split seed -1": (["train", "--data", "digits", "--split-seed", "-1"], "--split-seed"),
    "generate seed -1": (["generate", "{model}", "--sample", "4", "--seed", "-1"], "--seed"),
    "serve port 70000": (["serve", "{model}", "--data", "digits", "--port", "70000"], "--port"),
    "serve port -1": (["serve", "{model}", "--data", "digits", "--port", "-1"], "--port"),
    "text lr nan": (["text", "train", "--data", "digits", "--lr", "nan"], "--lr"),
    "test size 1.5": (["train", "--data", "digits", "--test-size", "1.5"], "--test-size"),
}


@pytest.mark.parametrize("case", sorted(OUT_OF_RANGE))
def test_a_value_out_of_range_is_refused_where_the_option_is_read(trained, tmp_path, capsys, case, monkeypatch):
    import aelab.models
    import aelab.serve

    monkeypatch.setattr(aelab.models, "load", lambda *a: pytest.fail("a model was loaded"))
    monkeypatch.setattr(aelab.serve, "run", lambda *a: pytest.fail("the explorer started"))
    argv, option = OUT_OF_RANGE[case]
    argv = [a.format(model=trained / "model") for a in argv]
    if argv[0] in ("train", "reconstruct", "generate", "text"):
        argv += ["--out", str(tmp_path / "out")]
    err = one_line_error(capsys, *argv)
    assert f"argument {option}" in err


def test_packing_refuses_rows_that_are_not_numbers(tmp_path, capsys):
    for value in (np.nan, np.inf):
        data = np.full((30, 4), 0.5, np.float32)
        data[17, 2] = value
        np.save(tmp_path / "rows.npy", data)
        assert "row 17" in one_line_error(capsys, "pack", "--data", tmp_path / "rows.npy", "--out", tmp_path / "shards")
        assert not (tmp_path / "shards").exists()


def test_a_map_of_documents_without_a_word_of_the_vocabulary_is_refused(news, tmp_path, capsys):
    (tmp_path / "other" / "a").mkdir(parents=True)
    for i in range(5):
        (tmp_path / "other" / "a" / f"{i}.txt").write_text("zebra giraffe xylophone")
    argv = ["text", "map", news / "search", "--data", tmp_path / "other", "--out", tmp_path / "map.png"]
    assert "none of the" in one_line_error(capsys, *argv) and not (tmp_path / "map.png").exists()
    assert main([str(a) for a in [*argv[:3], "--data", news / "texts", "--out", tmp_path / "map.png"]]) == 0


# --- second pass: folders whose JSON disagrees with their arrays --------------------------------------------
def _rewrite_weights(model, change):
    """Change a model folder's weights and record their new checksum: damage no checksum can see."""
    import hashlib

    from safetensors.numpy import load_file, save_file

    weights = load_file(model / "model.safetensors")
    change(weights)
    save_file(weights, model / "model.safetensors")
    digest = hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    edit_json(model / "config.json", lambda m: m["files"].update({"model.safetensors": digest}))


TAMPERED_MODELS = {
    "NaN weights": lambda f: _rewrite_weights(
        f, lambda t: t.update({k: np.full_like(v, np.nan) for k, v in t.items() if v.dtype.kind == "f"})
    ),
    "code sample of other width": lambda f: _rewrite_weights(
        f, lambda t: t.update(code_sample=np.ascontiguousarray(t["code_sample"][:, :2]))
    ),
    "code sample labels": lambda f: edit_json(f / "config.json", lambda m: m["fitted"].update(code_sample_labels_=[1])),
    "loss is code": lambda f: edit_json(f / "config.json", lambda m: m["fitted"].update(loss_="__import__('os')")),
    "unknown fitted key": lambda f: edit_json(f / "config.json", lambda m: m["fitted"].update(transform=1)),
    "hidden sizes of 1e9": lambda f: edit_json(
        f / "config.json", lambda m: m["fitted"].update(hidden_layer_sizes_=[10**9])
    ),
    "a number of 100,000 digits": lambda f: (f / "config.json").write_text(
        (f / "config.json").read_text().replace('"n_features_in_": 64', '"n_features_in_": ' + "9" * 100_000)
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERED_MODELS))
def test_a_model_folder_whose_config_disagrees_with_its_arrays_is_damaged(trained, tmp_path, case):
    model = copy_of(trained / "model", tmp_path / "model")
    TAMPERED_MODELS[case](model)
    with pytest.raises(ModelError, match="is damaged"):
        aelab.load(model)


def test_huge_sizes_in_a_config_are_refused_before_they_are_allocated(trained, tmp_path, monkeypatch):
    import torch

    model = copy_of(trained / "model", tmp_path / "model")
    edit_json(model / "config.json", lambda m: m["fitted"].update(hidden_layer_sizes_=[3_000_000]))
    built = []
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", lambda self: built.append(self.weight.device.type))
    with pytest.raises(ModelError, match="its config makes the weight"):
        aelab.load(model)
    assert set(built) == {"meta"}  # measured on the meta device, never allocated


@pytest.mark.parametrize("space", ["pixels", "pca", "itq"])
def test_an_index_header_that_lies_about_its_space_is_damaged(trained, tmp_path, capsys, space):
    index = copy_of(trained / "index", tmp_path / "index")
    edit_json(index / "index.json", lambda m: m.update(space=space))
    assert f"in the {space} space" in one_line_error(capsys, "search", index, "--query", "train:1")


def test_an_index_with_an_id_twice_or_images_of_another_size_is_damaged(trained, tmp_path, capsys):
    for name, edit in (
        ("items.json", lambda m: m["ids"].__setitem__(1, m["ids"][0])),
        ("index.json", lambda m: m["info"].update(image_shape=[4, 4])),
    ):
        index = copy_of(trained / "index", tmp_path / name)
        edit_json(index / name, edit)
        assert "is damaged" in one_line_error(capsys, "search", index, "--query", "train:1")


SEARCH_EDITS = {
    "code size": ("search.json", lambda m: m.update(code_size=10**9)),
    "count": ("search.json", lambda m: m.update(count=5)),
    "a pattern from elsewhere": (
        "autoencoder/model/config.json",
        lambda m: m["fitted"]["vectorizer"].update(token_pattern="(a+)+$"),
    ),
    "a word twice": (
        "autoencoder/model/config.json",
        lambda m: m["fitted"]["vectorizer"]["vocabulary"].__setitem__(1, m["fitted"]["vectorizer"]["vocabulary"][0]),
    ),
}


@pytest.mark.parametrize("case", sorted(SEARCH_EDITS))
def test_a_document_search_whose_header_disagrees_is_damaged(news, tmp_path, capsys, case):
    search = copy_of(news / "search", tmp_path / "search")
    name, change = SEARCH_EDITS[case]
    edit_json(search / name, change)
    assert "is damaged" in one_line_error(capsys, "text", "search", search, "--query", "orbit")


def test_swapped_document_indexes_are_damaged(news, tmp_path, capsys):
    search = copy_of(news / "search", tmp_path / "search")
    (search / "lsa").rename(search / "x")
    (search / "autoencoder").rename(search / "lsa")
    (search / "x").rename(search / "autoencoder")
    assert "does not hold a document auto-encoder" in one_line_error(
        capsys, "text", "search", search, "--query", "orbit"
    )


# --- second pass: uploads decode whole and hold numbers, or get a 4xx -----------------------------------------
def _png_claiming(width, height, rows):
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + bytes([128]) * width for _ in range(rows))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _tiff(value):
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), value, np.float32), "F").save(buffer, format="TIFF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (_png_claiming(10000, 5000, 50), "end before its last row"),
        (_png_claiming(64, 64, 3), "end before its last row"),
        (_tiff(np.nan), "not numbers"),
        (_tiff(np.inf), "not numbers"),
    ],
    ids=["10000x5000 of 50 rows", "64x64 of 3 rows", "NaN TIFF", "infinite TIFF"],
)
def test_an_upload_that_does_not_decode_whole_or_holds_no_numbers_is_a_4xx(trained, data, says):
    from fastapi.testclient import TestClient

    from aelab.serve import Explorer, create_app

    X, y = _digits()
    client = TestClient(create_app(Explorer(aelab.load(trained / "model"), X[:40], y[:40], image_shape=(8, 8))))
    answer = client.post("/api/neighbours", files={"file": ("q.png", data)})
    assert answer.status_code == 400 and says in answer.json()["detail"]
    whole = _png_claiming(8, 8, 8)
    assert client.post("/api/neighbours", files={"file": ("q.png", whole)}).status_code == 200
