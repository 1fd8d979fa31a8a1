import gzip

import numpy as np
import pytest
from PIL import Image

from aelab import datasets
from aelab.datasets import named
from aelab.errors import DataError
from conftest import MNIST_DIR, requires_mnist, write_idx


def test_digits_is_built_in_scaled_and_split():
    ds = datasets.load("digits")
    assert ds.image_shape == (8, 8)
    assert len(ds.train) + len(ds.test) == 1797
    assert ds.train.X.dtype == np.float32 and ds.train.X.shape[1] == 64
    assert ds.train.X.min() == 0.0 and ds.train.X.max() == 1.0
    assert set(np.unique(ds.test.y)) == set(range(10))
    # seeded hold-out: same seed, same split; other seed, other split
    assert np.array_equal(datasets.load("digits", seed=0).test.ids, ds.test.ids)
    assert not np.array_equal(datasets.load("digits", seed=1).test.ids, ds.test.ids)


def test_idx_folder_keeps_its_own_split(idx_folder):
    ds = datasets.load(idx_folder)
    assert (len(ds.train), len(ds.test), ds.image_shape) == (40, 10, (6, 5))
    raw = np.frombuffer(gzip.decompress((idx_folder / "train-images-idx3-ubyte.gz").read_bytes())[16:], np.uint8)
    np.testing.assert_allclose(ds.train.X.ravel(), raw / 255.0, rtol=1e-6)
    assert ds.train.y.shape == (40,)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b"\x08\x03" + b[2:], "bad magic number"),
        (lambda b: b[:-7], "truncated"),
        (lambda b: b[:6], "truncated"),
    ],
)
def test_damaged_idx_files_get_one_line_errors(tmp_path, damage, message):
    path = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((3, 4, 4)))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=message) as err:
        datasets.read_idx(path)
    assert "\n" not in str(err.value)


def test_bad_gzip_is_reported(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(DataError, match="not a readable gzip"):
        datasets.read_idx(path)


def test_npy_uint8_images_are_scaled(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (30, 5, 4), dtype=np.uint8)
    np.save(tmp_path / "imgs.npy", arr)
    ds = datasets.load(tmp_path / "imgs.npy", test_size=0.2, seed=3)
    assert ds.image_shape == (5, 4) and (len(ds.train), len(ds.test)) == (24, 6)
    X = ds.split("all")
    np.testing.assert_allclose(X.X, arr.reshape(30, -1)[X.ids] / 255.0, rtol=1e-6)


def test_npz_with_keras_split_and_labels(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        x_train=rng.random((20, 3)),
        y_train=np.arange(20) % 2,
        x_test=rng.random((5, 3)),
        y_test=np.arange(5) % 2,
    )
    ds = datasets.load(tmp_path / "d.npz")
    assert (len(ds.train), len(ds.test), ds.image_shape) == (20, 5, None)
    assert ds.test.y.tolist() == [0, 1, 0, 1, 0]


def test_csv_with_header_and_text_labels(tmp_path):
    path = tmp_path / "t.csv"
    rows = ["a,b,species"] + [f"{i},{i * 2.5},{'cat' if i % 2 else 'dog'}" for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    ds = datasets.load(path)
    assert ds.n_features == 2 and ds.classes == ["cat", "dog"]
    allx = ds.split("all")
    np.testing.assert_allclose(allx.X[:, 1], allx.X[:, 0] * 2.5)
    assert allx.y.tolist() == ["cat" if i % 2 else "dog" for i in allx.ids]  # labels are their names


def test_csv_label_column_by_index_and_bad_values(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("1,0.5,2\n0,0.25,3\n1,0.75,x\n")
    with pytest.raises(DataError, match=r"line 3: 'x' is not a number"):
        datasets.load(path)
    path.write_text("1,0.5,2\n0,0.25,3\n1,0.75,4\n0,1,1\n")
    ds = datasets.load(path, label_column=0)
    assert ds.n_features == 2 and ds.classes is None and set(ds.split("all").y) == {0, 1}


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((0, 3)), "empty"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN or infinite values .first at row 0, column 1"),
        (np.array([[np.inf]]), "NaN or infinite"),
        (np.zeros(4), r"Reshape your data: .* has shape \(4,\); pass one sample per row"),
        (np.float32(3.0), "Reshape your data"),
        (np.array([[1 + 2j]]), "Complex data not supported"),
    ],
)
def test_bad_arrays_are_refused(tmp_path, X, message):
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(DataError, match=message):
        datasets.load(tmp_path / "bad.npy")


def _png(path, size, colour=None, value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "RGB" if colour else "L"
    Image.new(mode, size, colour or value).save(path)


def test_image_folder_grey_labels_and_split(tmp_path):
    for label in ("cats", "dogs"):
        for i in range(5):
            _png(tmp_path / "imgs" / label / f"{i}.png", (4, 3), value=50 if label == "cats" else 200)
    ds = datasets.load(tmp_path / "imgs", test_size=0.4)
    assert ds.image_shape == (3, 4) and ds.classes == ["cats", "dogs"]
    allx = ds.split("all")
    for x, y in zip(allx.X, allx.y):
        np.testing.assert_allclose(x, (50 if y == "cats" else 200) / 255.0, rtol=1e-6)


def test_image_folder_mixed_colour_becomes_rgb_and_sizes_must_match(tmp_path):
    _png(tmp_path / "f" / "a" / "0.png", (4, 4), value=255)
    _png(tmp_path / "f" / "b" / "1.jpg", (4, 4), colour=(255, 0, 0))
    _png(tmp_path / "f" / "b" / "2.png", (6, 5), value=0)
    with pytest.raises(DataError, match="differ in size .*--image-size"):
        datasets.load(tmp_path / "f")
    ds = datasets.load(tmp_path / "f", image_size=(4, 4), test_size=0.34)
    assert ds.image_shape == (4, 4, 3)
    white = ds.split("all").X[ds.split("all").y == "a"][0].reshape(4, 4, 3)
    np.testing.assert_allclose(white, 1.0)


def test_unreadable_image_is_named(tmp_path):
    _png(tmp_path / "f" / "a" / "0.png", (4, 4))
    (tmp_path / "f" / "a" / "1.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"1.png cannot be read as an image"):
        datasets.load(tmp_path / "f")


def test_unknown_spec_and_missing_path():
    with pytest.raises(DataError, match="no data at 'nowhere'"):
        datasets.load("nowhere")


def test_mnist_without_files_or_network_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))

    def offline(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(named.urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match="could not be downloaded.*--data-dir"):
        datasets.load("mnist")


def test_download_is_verified_by_checksum(tmp_path, monkeypatch, idx_folder):
    import hashlib

    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "cache"))
    files = {
        "train_images": "train-images-idx3-ubyte.gz",
        "train_labels": "train-labels-idx1-ubyte.gz",
        "test_images": "t10k-images-idx3-ubyte",
        "test_labels": "t10k-labels-idx1-ubyte",
    }
    served = tmp_path / "served"
    served.mkdir()
    md5 = {}
    for key, name in files.items():
        data = (idx_folder / name).read_bytes()
        data = data if data[:2] == b"\x1f\x8b" else gzip.compress(data)
        (served / named._FILES[key]).write_bytes(data)
        md5[key] = hashlib.md5(data).hexdigest()
    monkeypatch.setitem(
        named.MIRRORS, "mnist", {"urls": [served.as_uri() + "/"], "md5": dict(md5, test_labels="0" * 32)}
    )
    with pytest.raises(DataError, match="checksum mismatch"):
        datasets.load("mnist")
    assert not (tmp_path / "cache" / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()
    named.MIRRORS["mnist"]["md5"]["test_labels"] = md5["test_labels"]
    ds = datasets.load("mnist")
    assert (len(ds.train), len(ds.test)) == (40, 10)


@pytest.mark.slow
@requires_mnist
def test_shared_mnist_reads_as_published():
    ds = datasets.load("mnist", data_dir=MNIST_DIR)
    assert ds.train.X.shape == (60000, 784) and ds.test.X.shape == (10000, 784)
    assert ds.image_shape == (28, 28)
    assert np.bincount(ds.test.y).tolist()[:3] == [980, 1135, 1032]
