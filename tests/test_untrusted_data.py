"""Collections and folders from someone else: a link out of a collection is never opened, nothing in
a folder makes aelab reach the network, a compressed archive is inflated no further than the
limit, and every worker process ends with the process that started it."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aelab
from aelab.cli import main
from aelab.errors import DataError
from aelab.text import load_text
from conftest import write_idx

OPENED: list[str] = []
NETWORK: list[str] = []
_AUDITING: list[bool] = []


def _audit(event, args):
    if not _AUDITING:
        return
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        OPENED.append(os.path.realpath(os.fsdecode(args[0])))  # a link's target, not its name
    elif event.startswith(("socket.", "urllib.")):
        NETWORK.append(event)


sys.addaudithook(_audit)


class audited:
    """Record, within the block, the real path of every file opened and every network call."""

    def __enter__(self):
        OPENED.clear()
        NETWORK.clear()
        _AUDITING.append(True)
        return self

    def __exit__(self, *exc):
        _AUDITING.clear()

    def opened(self, path) -> bool:
        real = os.path.realpath(path)
        return any(p == real or p.startswith(real + os.sep) for p in OPENED)


def one_line_error(capsys, *argv) -> str:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("aelab: error: ") and err.count("\n") == 1, err
    return err


# --- links out of a collection ---------------------------------------------------------------------------
@pytest.fixture
def secret(tmp_path) -> Path:
    """Files outside every collection of a test: a text, an image, a shard and an IDX file."""
    folder = tmp_path / "secret"
    folder.mkdir()
    (folder / "passwords.txt").write_text("root:secret orbit rocket launch")
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(folder / "face.png")
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((4, 8, 8)))
    aelab.datasets.pack_shards(str(_image_folder(tmp_path / "other")), folder / "shards")
    (folder / "labels.json").write_text('["x", "y"]')
    return folder


def _image_folder(folder: Path, n: int = 6) -> Path:
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(folder / label / f"{i}.png")
    return folder


def _text_folder(folder: Path) -> Path:
    for label, words in (("space", "orbit rocket launch moon"), ("food", "oven bake flour sugar")):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(6):
            (folder / label / f"{i}.txt").write_text(f"{words} {i}")
    return folder


def _shard_folder(folder: Path) -> Path:
    aelab.datasets.pack_shards(str(_image_folder(folder.with_name(folder.name + "-images"))), folder)
    return folder


def _idx_folder(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 255, (4, 8, 8)))
    return folder


# (what the collection is, how to make it, the link planted in it -> what it points at, how to read it)
LINKS = {
    "text file": (_text_folder, "space/9.txt", "passwords.txt", lambda p: load_text(str(p))),
    "text folder": (_text_folder, "stolen", ".", lambda p: load_text(str(p))),
    "image file": (_image_folder, "a/9.png", "face.png", lambda p: aelab.datasets.load(str(p))),
    "image label folder": (_image_folder, "c", ".", lambda p: aelab.datasets.load(str(p))),
    "image train part": (_image_folder, "train", ".", lambda p: aelab.datasets.load(str(p))),
    "streamed images": (_image_folder, "a/9.png", "face.png", lambda p: aelab.datasets.ImageRows(p)),
    "shard": (_shard_folder, "shard-000009.tar", "shards/shard-000000.tar", lambda p: aelab.datasets.load(str(p))),
    "shard labels": (_shard_folder, "labels.json", "labels.json", lambda p: aelab.datasets.ShardRows(p)),
    "idx file": (_idx_folder, "train-images-idx3-ubyte", "train-images-idx3-ubyte", lambda p: aelab.datasets.load(p)),
    "packed images": (
        _image_folder,
        "a/9.png",
        "face.png",
        lambda p: aelab.datasets.pack_shards(str(p), p.with_name("packed"), overwrite=True),
    ),
}


@pytest.mark.parametrize("case", sorted(LINKS))
def test_a_link_out_of_a_collection_is_never_opened(tmp_path, secret, case):
    make, name, target, read = LINKS[case]
    collection = make(tmp_path / "collection")
    if name == "train":  # a collection with its own parts: train/ and test/
        shutil.move(collection / "a", collection / "test")
    link = collection / name
    if link.exists():
        link.unlink() if link.is_file() else shutil.rmtree(link)
    link.symlink_to(secret / target)
    with audited() as audit, pytest.raises(DataError, match="--follow-links"):
        read(collection)
    assert not audit.opened(secret)
    with audited() as audit, aelab.limits.limits(follow_links=True):  # allowed: the hook sees it opened
        try:
            read(collection)
        except DataError:
            pass  # what lies there need not be data of the collection's kind
    assert audit.opened(secret) or case == "idx file"  # an IDX folder opens the files it needs alone


def test_a_link_inside_a_collection_is_followed(tmp_path):
    collection = _image_folder(tmp_path / "images")
    (collection / "a" / "again.png").symlink_to(collection / "b" / "0.png")
    (collection / "c").symlink_to(collection / "b")
    ds = aelab.datasets.load(str(collection))
    assert len(ds.train) + len(ds.test) == 6 + 7 + 6


def test_hidden_files_and_pipes_are_left_out(tmp_path):
    collection = _text_folder(tmp_path / "texts")
    (collection / "space" / "._0.txt").write_bytes(b"\x00\x05\x16\x07 mac resource fork")
    os.mkfifo(collection / "space" / "pipe.txt")  # reading it would wait for ever
    corpus = load_text(str(collection))
    assert len(corpus.train) + len(corpus.test) == 12


def test_the_cli_says_how_to_follow_links(tmp_path, secret, capsys):
    collection = _text_folder(tmp_path / "texts")
    (collection / "space" / "9.txt").symlink_to(secret / "passwords.txt")
    argv = ["text", "train", "--data", collection, "--out", tmp_path / "search", "--epochs", "1", "--quiet"]
    err = one_line_error(capsys, *argv)
    assert "space/9.txt" in err and "--follow-links" in err
    assert not (tmp_path / "search").exists()
    assert main([str(a) for a in argv] + ["--follow-links", "--n-components", "2"]) == 0


# --- no network from a folder's contents -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "MNIST"])
def test_a_built_in_name_in_an_index_folder_never_downloads(tmp_path, capsys, monkeypatch, name):
    import aelab.datasets.named

    monkeypatch.setenv("AELAB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(aelab.datasets.named, "_fetch", lambda *a: pytest.fail("a folder made aelab download"))
    assert main(["index", "--space", "pixels", "--data", "digits", "--out", str(tmp_path / "index")]) == 0
    meta = json.loads((tmp_path / "index" / "index.json").read_text())
    meta["info"]["data"] = name
    (tmp_path / "index" / "index.json").write_text(json.dumps(meta))
    with audited():
        err = one_line_error(capsys, "search", tmp_path / "index", "--query", "train:1", "--figure", tmp_path / "f.png")
    assert "never makes aelab download" in err and f"--data {name.lower()}" in err
    assert not NETWORK and not (tmp_path / "f.png").exists()


# --- decompression bombs ---------------------------------------------------------------------------------
def _tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    "members",
    [
        {"texts/a/bomb.txt": b"\0" * 64_000_000},  # one member far over the limit
        {f"texts/a/{i}.txt": b"word " * 400_000 for i in range(32)},  # many members over it together
    ],
    ids=["one member", "many members"],
)
def test_a_text_archive_is_inflated_no_further_than_the_limit(tmp_path, members):
    archive = _tar_gz(tmp_path / "bomb.tar.gz", members)
    assert archive.stat().st_size < 2_000_000  # a small file ...
    limit = 4_000_000
    tracemalloc.start()
    try:
        with aelab.limits.limits(file_bytes=limit), pytest.raises(DataError, match="--max-file-bytes"):
            load_text(str(archive))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * limit  # ... inflated to at most the limit, not to its 64 MB


def test_a_text_archive_within_the_limit_is_read(tmp_path):
    archive = _tar_gz(
        tmp_path / "news.tar.gz", {f"news/{g}/{i}.txt": f"{g} words {i}".encode() for g in "ab" for i in range(5)}
    )
    with aelab.limits.limits(file_bytes=100_000):
        corpus = load_text(str(archive))
    assert len(corpus.train) + len(corpus.test) == 10 and corpus.classes == ["a", "b"]


# --- workers end with their parent ---------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _kill_when_workers_start(argv: list[str], workers: int, cwd: Path, settle: float = 0.0) -> list[int]:
    """Run ``aelab ARGV``; ``settle`` seconds after it has ``workers`` child processes, kill it with
    SIGKILL; return the children that are still alive 2 s later (the target is 5 s; PyTorch's own
    watchdog ends an idle DataLoader worker within about 5 s, aelab's within a fraction of one)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aelab.cli", *argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while len(_children(proc.pid)) < workers and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(settle)
    children = _children(proc.pid)
    assert len(children) >= workers, f"the workers never started: {proc.communicate()[1].decode()[-500:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    end = time.time() + 2
    while time.time() < end and any(_alive(c) for c in children):
        time.sleep(0.1)
    left = [c for c in children if _alive(c)]
    for c in left:
        os.kill(c, signal.SIGKILL)
    return left


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_shard_workers_end_within_seconds_of_a_killed_parent(tmp_path):
    np.save(tmp_path / "big.npy", np.random.default_rng(0).random((400_000, 64), dtype=np.float32))
    argv = ["index", "--space", "pixels", "--data", "big.npy", "--split", "all", "--out", "index"]
    left = _kill_when_workers_start([*argv, "--kind", "ivfpq", "--shards", "4", "--workers", "2"], 3, tmp_path)
    assert not left  # two shard builders and multiprocessing's resource tracker


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_decoding_workers_end_within_seconds_of_a_killed_parent(tmp_path):
    _image_folder(tmp_path / "images", n=200)
    argv = ["train", "--data", "images", "--stream", "--workers", "2", "--out", "model", "--epochs", "100"]
    assert not _kill_when_workers_start(argv, 2, tmp_path, settle=3.0)  # training's own, not the first pass's
