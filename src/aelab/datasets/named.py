"""Named data sets: ``digits`` (ships with scikit-learn), ``mnist`` and ``fashion-mnist`` (IDX files).

MNIST-style sets are read from a folder the user names (``data_dir``), else from the cache folder
(``$AELAB_CACHE`` or ``~/.cache/aelab``), else downloaded there and checked against the published
MD5 checksums. Files a user points us at are the user's own: their structure is validated, not
their hash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from ..errors import DataError
from .base import Dataset, Split, hold_out
from .idx import find_idx_files, read_idx

_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

# Published MD5 checksums of the gzipped files (as used by torchvision and others).
MIRRORS = {
    "mnist": {
        "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
        "md5": {
            "train_images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train_labels": "d53e105ee54ea40749a09fcbcd1e9432",
            "test_images": "9fb629c4189551a2d022fa330f9573f3",
            "test_labels": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    },
    "fashion-mnist": {
        "urls": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "md5": {
            "train_images": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train_labels": "25c81989df183df01b3e8a0aad5dffbe",
            "test_images": "bef4ecab320f06d8554ea6380940ec79",
            "test_labels": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    },
}

FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

NAMES = ("digits", "mnist", "fashion-mnist")


def cache_dir() -> Path:
    return Path(os.environ.get("AELAB_CACHE", Path.home() / ".cache" / "aelab"))


def load_digits_dataset(test_size: float, seed: int) -> Dataset:
    """The 1,797 8x8 digits of scikit-learn (pixel values 0-16, scaled to [0, 1])."""
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)
    return hold_out("digits", X, digits.target.astype(np.int64), test_size, seed, image_shape=(8, 8))


def load_idx_folder(folder: Path, name: str | None = None) -> Dataset:
    """A folder holding the four MNIST-style IDX files, with their own train/test split."""
    files = find_idx_files(folder)
    missing = [k for k in _FILES if k not in files]
    if "train_images" in missing or "test_images" in missing:
        wanted = ", ".join(_FILES[k] for k in missing)
        raise DataError(f"{folder} lacks {wanted}; put the four IDX files there (gzipped or not)")
    splits = {}
    for part in ("train", "test"):
        images = read_idx(files[f"{part}_images"])
        if images.ndim != 3:
            raise DataError(f"{files[f'{part}_images']} holds an array of shape {images.shape}, not images (N, H, W)")
        labels = read_idx(files[f"{part}_labels"]).astype(np.int64) if f"{part}_labels" in files else None
        if labels is not None and len(labels) != len(images):
            raise DataError(
                f"{files[f'{part}_labels']} has {len(labels)} labels for {len(images)} images in "
                f"{files[f'{part}_images'].name}; the files do not belong together"
            )
        X = images.reshape(len(images), -1).astype(np.float32) / 255.0
        if labels is not None and name == "fashion-mnist":  # labels by their names
            if labels.max(initial=0) >= len(FASHION_CLASSES):
                raise DataError(f"{files[f'{part}_labels']} holds label {labels.max()}; Fashion-MNIST has 10 classes")
            labels = np.array(FASHION_CLASSES)[labels]
        splits[part] = Split(X, labels, np.arange(len(X)))
    if splits["train"].X.shape[1] != splits["test"].X.shape[1]:
        raise DataError(f"{folder}: train and test images differ in size")
    shape = tuple(read_idx(files["test_images"]).shape[1:])
    classes = FASHION_CLASSES if name == "fashion-mnist" else None
    return Dataset(
        name or folder.name,
        splits["train"],
        splits["test"],
        image_shape=shape,
        classes=classes,
        info={"split": "the data set's own train/test split", "source": str(folder)},
    )


def load_named(
    name: str, data_dir: str | os.PathLike | None, test_size: float, seed: int, download: bool = True
) -> Dataset:
    if name == "digits":
        return load_digits_dataset(test_size, seed)
    if data_dir is not None:
        folder = Path(data_dir)
        if not folder.is_dir():
            raise DataError(f"--data-dir {folder} is not a folder; point it at the folder holding the {name} IDX files")
        return load_idx_folder(folder, name)
    folder = cache_dir() / name
    if not _complete(folder):
        if not download:
            raise DataError(
                f"{name} is not in the cache folder {folder}, and a name read from a folder never makes aelab "
                f"download: name the data yourself (--data {name}, with --data-dir FOLDER where its files are)"
            )
        fetch(name, folder)
    return load_idx_folder(folder, name)


def _complete(folder: Path) -> bool:
    return folder.is_dir() and all(k in find_idx_files(folder) for k in _FILES)


def fetch(name: str, folder: Path) -> None:
    """Fetch the four files of ``name`` into ``folder``, each verified before it is kept."""
    spec = MIRRORS[name]
    folder.mkdir(parents=True, exist_ok=True)
    for key, filename in _FILES.items():
        target = folder / filename
        if target.exists():
            continue
        errors = []
        for base in spec["urls"]:
            try:
                _fetch(base + filename, target, spec["md5"][key])
                break
            except (OSError, ValueError) as exc:
                errors.append(f"{base}: {exc}")
        else:
            raise DataError(
                f"{name} is not in {folder} and could not be downloaded ({errors[-1]}); put the four IDX files "
                f"({', '.join(_FILES.values())}) in a folder and pass --data-dir FOLDER"
            )


def _fetch(url: str, target: Path, md5: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != md5:
            raise ValueError(f"checksum mismatch for {url} (md5 {digest.hexdigest()}, expected {md5})")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
