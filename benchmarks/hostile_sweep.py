"""Bad inputs and faults, tried as an adversarial user would: each case runs ``aelab`` in its own
process (under an audit hook that records every file it opens and every network call) and is
classified by what the user sees.

- clean: exit status 1 and exactly one line on stderr (``aelab: error: ...``), nothing else wrong;
- traceback: a Python traceback, a crash, or the last-resort line of a bug ("... a bug in aelab ...");
- accepted: exit status 0 where the input should have been refused (silently wrong), or a server
  that started where it should have refused;
- written: refused in one line, yet a result was left at its --out (or --figure, --npy) path;
- outside: a file outside the inputs was opened (a link out of a collection followed);
- network: the contents of a folder made aelab reach for the network;
- overlimit: memory was taken past a limit before the input was refused (an archive inflated, the
  weights of a config's sizes allocated): the process peaked over 700 MB;
- running: a worker process outlived its killed parent by more than 2 s;
- lost: a result that existed before the case is gone or damaged after it.

Also: the Python API's bad arguments and the explorer's bad uploads (each case in one process:
an aelab error or a 4xx answer is clean), and byte flips at random offsets of a model's weights and
of exact and HNSW index files, each loaded once (refused = clean; loaded = accepted). Prints every
case that is not clean, then the totals.

    .venv/bin/python benchmarks/hostile_sweep.py [--flips 40]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

# aelab under an audit hook that writes the real path of every file opened and every network call
AUDITED = """
import os, sys
log = open(os.environ["SWEEP_LOG"], "w", buffering=1)
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        log.write("open " + os.path.realpath(os.fsdecode(args[0])) + "\\n")
    elif event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request"):
        where = args[1] if event == "socket.connect" else args[0]
        host = where[0] if isinstance(where, tuple) and where else where
        if host not in ("127.0.0.1", "::1", "localhost"):  # loopback (Milvus Lite's in-process server) is not
            log.write("net " + event + "\\n")  # reaching out (a server's bind is not)
sys.addaudithook(hook)
if os.environ.get("SWEEP_CODE"):  # a case of the Python API: an aelab error is its one line
    from aelab.errors import AelabError
    try:
        exec(os.environ["SWEEP_CODE"])
    except AelabError as exc:
        sys.exit(print("aelab: error: " + " ".join(str(exc).split()), file=sys.stderr) or 1)
    sys.exit(0)
from aelab.cli import main
sys.exit(main(sys.argv[1:]))
"""
AELAB = [sys.executable, "-c", AUDITED]
TIMEOUT = 120  # seconds: a server that started (an option accepted) is stopped then
MAX_RSS_MB = 700  # a case that inflated a bomb past its limit of 10 MB (or allocated a huge net) peaks above this


class Run:
    """What one case did: exit status, stderr, peak memory, the files it opened, its network calls."""

    def __init__(self, returncode: int, stderr: str, rss_mb: float, opened: list[str], network: list[str]):
        self.returncode, self.stderr, self.rss_mb, self.opened, self.network = (
            returncode,
            stderr,
            rss_mb,
            opened,
            network,
        )


def run(*args, cwd=None, env=None) -> Run:
    log, err = (tempfile.NamedTemporaryFile("w+", suffix=suffix, delete=False) for suffix in (".log", ".err"))
    environment = dict(os.environ, SWEEP_LOG=log.name, **(env or {}))
    proc = subprocess.Popen([*AELAB, *map(str, args)], stdout=subprocess.DEVNULL, stderr=err, cwd=cwd, env=environment)
    deadline, status, usage = time.time() + TIMEOUT, None, None
    while status is None:  # wait4, not Popen.wait: it tells the process's peak memory
        pid, code, found = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, usage = code, found
        elif time.time() > deadline:
            proc.kill()
            status, usage = os.wait4(proc.pid, 0)[1:]
            status = None
            break
        else:
            time.sleep(0.05)
    proc.returncode = 0 if status is None else os.waitstatus_to_exitcode(status)  # ran on (a server): accepted
    stderr, lines = Path(err.name).read_text(errors="replace"), Path(log.name).read_text(errors="replace").splitlines()
    for f in (log, err):
        f.close()
        os.unlink(f.name)
    opened = [line[5:] for line in lines if line.startswith("open ")]
    network = [line[4:] for line in lines if line.startswith("net ")]
    return Run(proc.returncode, stderr, usage.ru_maxrss / 1024 if usage else 0.0, opened, network)


def classify(result: Run, expect_ok: bool = False, secret: Path | None = None, bomb: bool = False) -> str:
    err = result.stderr
    if secret is not None and any(p == str(secret) or p.startswith(f"{secret}/") for p in result.opened):
        return "outside"
    if result.network:
        return "network"
    if bomb and result.rss_mb > MAX_RSS_MB:
        return "overlimit"
    if "Traceback" in err or result.returncode not in (0, 1) or "a bug in aelab" in err:
        return "traceback"
    if result.returncode == 0:
        return "ok" if expect_ok else "accepted"
    if err.startswith("aelab: error: ") and err.count("\n") == 1:
        return "clean"
    return "traceback"  # several lines, or not our format


# --- files ----------------------------------------------------------------------------------------------
def idx_header(dims, magic=0x08) -> bytes:
    return bytes([0, 0, magic, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def png_header(path: Path, width: int, height: int) -> Path:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    return path


def npy_claiming(path: Path, shape) -> Path:
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}".ljust(118) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64)
    return path


def make_files(w: Path) -> None:
    rng = np.random.default_rng(0)
    (w / "idx-overflow-idx3-ubyte").write_bytes(idx_header([2**31] * 3))
    (w / "idx-gz-overflow-idx3-ubyte.gz").write_bytes(gzip.compress(idx_header([2**31] * 3)))
    (w / "idx-gz-bomb-idx3-ubyte.gz").write_bytes(gzip.compress(idx_header([60000, 28, 28]) + b"\0" * 100_000_000))
    (w / "idx-empty-idx3-ubyte").write_bytes(idx_header([0, 3, 3]))
    (w / "idx-magic-idx3-ubyte").write_bytes(b"\1\2\3\4" + b"\0" * 40)
    (w / "idx-truncated-idx3-ubyte").write_bytes(idx_header([10, 3, 3]) + b"\0" * 20)
    (w / "idx-ndim0-idx3-ubyte").write_bytes(bytes([0, 0, 8, 0]))
    (w / "idx-notgzip-idx3-ubyte.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    np.save(w / "zero-d.npy", np.float32(3))
    np.save(w / "one-d.npy", np.zeros(10, np.float32))
    np.save(w / "empty.npy", np.zeros((0, 4), np.float32))
    np.save(w / "no-features.npy", np.zeros((10, 0), np.float32))
    np.save(w / "complex.npy", np.ones((20, 4), np.complex64))
    np.save(w / "strings.npy", np.array([["a", "b"]] * 10))
    np.save(w / "nan.npy", np.full((20, 4), np.nan, np.float32))
    np.save(w / "inf.npy", np.full((20, 4), np.inf, np.float32))
    np.save(w / "huge-values.npy", np.full((20, 4), 1e38, np.float32))
    np.save(w / "bool.npy", np.ones((20, 4), bool))
    np.save(w / "five-d.npy", np.zeros((2, 2, 2, 2, 2), np.float32))
    np.save(w / "one-sample.npy", np.zeros((1, 4), np.float32))
    np.save(w / "objects.npy", np.array([[1, None]] * 5, dtype=object), allow_pickle=True)
    npy_claiming(w / "terabytes.npy", (10**7, 10**6))
    (w / "garbage.npy").write_bytes(b"not a numpy file at all")
    np.savez(w / "empty.npz")
    np.savez(w / "two-arrays.npz", a=np.zeros((3, 3)), b=np.zeros((3, 3)))
    (w / "garbage.npz").write_bytes(b"PK\x03\x04garbage")
    (w / "text.csv").write_text("a,b\nx,y\nz,w\n")
    (w / "ragged.csv").write_text("1,2,3\n4,5\n")
    (w / "empty.csv").write_text("")
    (w / "header-only.csv").write_text("a,b,c\n")
    (w / "latin1.csv").write_bytes("é,1\n2,3\n".encode("latin-1"))
    (w / "big-png").mkdir()
    png_header(w / "big-png" / "a.png", 20000, 20000)
    png_header(w / "big.png", 20000, 20000)
    (w / "broken-png" / "a").mkdir(parents=True)
    (w / "broken-png" / "a" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (w / "mixed-sizes" / "a").mkdir(parents=True)
    Image.new("L", (8, 8)).save(w / "mixed-sizes" / "a" / "1.png")
    Image.new("L", (9, 8)).save(w / "mixed-sizes" / "a" / "2.png")
    (w / "no-images").mkdir()
    (w / "no-images" / "readme.txt").write_text("nothing here")
    (w / "top-and-sub" / "a").mkdir(parents=True)
    Image.new("L", (8, 8)).save(w / "top-and-sub" / "1.png")
    Image.new("L", (8, 8)).save(w / "top-and-sub" / "a" / "2.png")
    (w / "garbage.tar.gz").write_bytes(b"\x1f\x8b" + b"not a tarball" * 10)
    (w / "empty-texts").mkdir()
    (w / "binary-texts" / "a").mkdir(parents=True)
    (w / "binary-texts" / "a" / "1.txt").write_bytes(bytes(range(256)) * 4)
    (w / "texts" / "space").mkdir(parents=True)
    (w / "texts" / "cooking").mkdir(parents=True)
    for i in range(60):
        (w / "texts" / "space" / f"{i}.txt").write_text(f"orbit rocket launch shuttle moon planet star {i}")
        (w / "texts" / "cooking" / f"{i}.txt").write_text(f"recipe oven bake flour sugar butter salt {i}")
    np.save(w / "q-wide.npy", np.zeros((1, 10), np.float32))
    np.save(w / "q-two.npy", np.zeros((2, 64), np.float32))
    np.save(w / "q-uint8.npy", rng.integers(0, 255, (1, 64), dtype=np.uint8))
    Image.new("RGB", (30, 20)).save(w / "q-rgb.png")
    (w / "q-junk.png").write_text("not an image")
    np.save(w / "one-nan.npy", np.where(np.arange(80).reshape(20, 4) == 45, np.nan, 0.5).astype(np.float32))
    for name, text in (("other-texts", "zebra giraffe xylophone {i}"), ("blank-texts", "")):
        (w / name / "a").mkdir(parents=True)
        for i in range(10):
            (w / name / "a" / f"{i}.txt").write_text(text.format(i=i))


def image_folder(folder: Path, n: int = 8, size: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (size, size), dtype=np.uint8)).save(folder / label / f"{i}.png")
    return folder


def tar_archive(path: Path, members) -> Path:
    """A compressed tar (its kind from its name) of ``members``: (name, size, a chunk repeated to that size)."""
    with tarfile.open(path, "w:" + path.suffix.lstrip(".").replace("tgz", "gz")) as tar:
        for name, size, chunk in members:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BufferedReader(Repeated(chunk, size)))
    return path


class Repeated(io.RawIOBase):
    """``size`` bytes of ``chunk`` over and over, as a file to read (a bomb is never held whole)."""

    def __init__(self, chunk: bytes, size: int):
        self.chunk, self.left = chunk, size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.left)
        whole = (self.chunk * (n // len(self.chunk) + 2))[:n]
        buffer[:n] = whole
        self.left -= n
        return n


def make_hostile_files(w: Path) -> None:
    """Collections with links out of them to a secret folder, archives that inflate past the limit."""
    secret, links = w / "secret", w / "links"
    secret.mkdir()
    (secret / "passwords.txt").write_text("root:x:0:0 orbit rocket launch")
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(secret / "face.png")
    (secret / "train-images-idx3-ubyte").write_bytes(idx_header([4, 8, 8]) + bytes(256))
    (secret / "labels.json").write_text('["x", "y"]')
    image_folder(secret / "images")
    assert run("pack", "--data", secret / "images", "--out", secret / "shards").returncode == 0
    for name, target in (("space/99.txt", "passwords.txt"), ("stolen", ".")):
        folder = links / f"texts-{name.split('/')[0]}"
        shutil.copytree(w / "texts", folder)
        (folder / name).symlink_to(secret / target)
    for name, target in (("a/99.png", "face.png"), ("c", "images/a"), ("train", "images")):
        folder = image_folder(links / f"images-{name.split('/')[0]}")
        if name == "train":
            (folder / "a").rename(folder / "test")
        (folder / name).symlink_to(secret / target)
    for name, target in (("shard-000009.tar", "shards/shard-000000.tar"), ("labels.json", "labels.json")):
        folder = links / f"shards-{name.split('.')[0]}"
        assert run("pack", "--data", image_folder(w / "plain-images"), "--out", folder).returncode == 0
        (folder / name).unlink(missing_ok=True)
        (folder / name).symlink_to(secret / target)
    (links / "idx").mkdir()
    (links / "idx" / "t10k-images-idx3-ubyte").write_bytes(idx_header([4, 8, 8]) + bytes(256))
    (links / "idx" / "train-images-idx3-ubyte").symlink_to(secret / "train-images-idx3-ubyte")
    import pyarrow as pa
    import pyarrow.parquet as pq

    (w / "junk.parquet").write_bytes(os.urandom(4096))
    pq.write_table(pa.table({"id": ["a", "b"], "vector": [[0.0, 1.0], [1.0, 0.0]]}), w / "no-code.parquet")
    pq.write_table(pa.table({"id": ["a", "b"], "code": ["0 1", "1 0"]}), w / "text-code.parquet")
    codes = pa.FixedSizeListArray.from_arrays(pa.array([0.0, 1.0, 1.0, 0.0], pa.float32()), 2)
    pq.write_table(pa.table({"id": pa.array([None, "b"], pa.string()), "code": codes}), w / "null-id.parquet")
    pq.write_table(pa.table({"id": ["a", "a"], "code": codes}), w / "same-id.parquet")
    pq.write_table(pa.table({"id": ["a", "b"], "code": pa.FixedSizeListArray.from_arrays(
        pa.array([0.0, float("nan"), 1.0, 0.0], pa.float32()), 2)}), w / "nan-code.parquet")  # fmt: skip
    bombs = w / "bombs"
    bombs.mkdir()
    zeros, words = (b"\0" * 65536, b"orbit rocket "), 300_000_000
    tar_archive(bombs / "one-member.tar.gz", [("t/a/bomb.txt", words, zeros[0])])
    tar_archive(bombs / "many-members.tar.gz", [(f"t/a/{i}.txt", 10_000_000, zeros[1]) for i in range(30)])
    tar_archive(bombs / "one-member.tar.bz2", [("t/a/bomb.txt", words, zeros[0])])
    tar_archive(bombs / "one-member.tar.xz", [("t/a/bomb.txt", words, zeros[0])])
    (bombs / "big.jsonl").write_text('{"text": "orbit rocket launch", "label": "a"}\n' * 600_000)
    with open(bombs / "big.csv", "w") as fh:
        fh.write("text,label\n" + "orbit rocket launch,a\n" * 1_200_000)


def build(w: Path) -> None:
    assert (
        run(
            "train", "--data", "digits", "--out", w / "model", "--epochs", "2", "--hidden", "16", "--seed", "0"
        ).returncode
        == 0
    )
    assert run("index", w / "model", "--data", "digits", "--out", w / "index").returncode == 0
    assert run("index", "--space", "pixels", "--data", "digits", "--out", w / "hnsw", "--kind", "hnsw").returncode == 0
    args = ["text", "train", "--data", w / "texts", "--out", w / "text", "--epochs", "2", "--n-components", "2"]
    assert run(*args).returncode == 0, run(*args).stderr
    shutil.copytree(w / "text", w / "text2d")
    shutil.copytree(w / "index", w / "index-copy")
    milvus = ["index", w / "model", "--data", "digits", "--out", w / "milvus", "--engine", "milvus://codes.db/digits"]
    assert run(*milvus).returncode == 0, run(*milvus).stderr
    assert run("encode", w / "model", "--data", "digits", "--out", w / "codes.parquet").returncode == 0


def link_cases(w: Path) -> list[tuple[str, list]]:
    """Collections that hold a link to the secret folder: refused, and the secret never opened."""
    links, out = w / "links", w / "out"
    return [
        ("text train: a file linked out", ["text", "train", "--data", links / "texts-space", "--out", out / "l1", "--epochs", "1"]),
        ("text train: a folder linked out", ["text", "train", "--data", links / "texts-stolen", "--out", out / "l2", "--epochs", "1"]),
        ("train: an image linked out", ["train", "--data", links / "images-a", "--out", out / "l3", "--epochs", "1"]),
        ("train: a label folder linked out", ["train", "--data", links / "images-c", "--out", out / "l4", "--epochs", "1"]),
        ("train: the train part linked out", ["train", "--data", links / "images-train", "--out", out / "l5", "--epochs", "1"]),
        ("train: a shard linked out", ["train", "--data", links / "shards-shard-000009", "--out", out / "l6", "--epochs", "1"]),
        ("train: labels.json linked out", ["train", "--data", links / "shards-labels", "--out", out / "l7", "--epochs", "1"]),
        ("train: an IDX file linked out", ["train", "--data", links / "idx", "--out", out / "l8", "--epochs", "1"]),
        ("train --stream: an image linked out", ["train", "--data", links / "images-a", "--stream", "--out", out / "l9", "--epochs", "1"]),
        ("pack: an image linked out", ["pack", "--data", links / "images-a", "--out", out / "l10"]),
        ("index --stream: an image linked out", ["index", "--space", "pixels", "--data", links / "images-c", "--stream", "--out", out / "l11"]),
        ("index: a label folder linked out", ["index", "--space", "pixels", "--data", links / "images-c", "--out", out / "l12"]),
    ]  # fmt: skip


def bomb_cases(w: Path) -> list[tuple[str, dict]]:
    """Archives and tables that hold far more than a limit of 10 MB, read from Python under that
    limit (the mechanism, whatever the CLI offers): refused having taken at most about that."""
    code = "import aelab\nfrom aelab.text import load_text\nwith aelab.limits.limits(file_bytes=10_000_000):\n    load_text({!r})"
    names = (
        "one-member.tar.gz",
        "many-members.tar.gz",
        "one-member.tar.bz2",
        "one-member.tar.xz",
        "big.jsonl",
        "big.csv",
    )
    return [(f"load_text {name} (limit 10 MB)", {"SWEEP_CODE": code.format(str(w / "bombs" / name))}) for name in names]


def network_cases(w: Path) -> list[tuple[str, Path, object]]:
    """Index folders that name a built-in collection: drawing their items must not download it."""

    def named(name):
        def apply(folder):
            meta = json.loads((folder / "index.json").read_text())
            meta["info"]["data"] = name
            (folder / "index.json").write_text(json.dumps(meta))

        return apply

    return [
        (f"index: data says {name}", "hnsw", named(name))
        for name in ("mnist", "fashion-mnist", "MNIST", "Fashion-MNIST")
    ]


# --- cases ------------------------------------------------------------------------------------------------
def data_cases(w: Path) -> list[tuple[str, list]]:
    files = [
        "idx-overflow-idx3-ubyte", "idx-gz-overflow-idx3-ubyte.gz", "idx-gz-bomb-idx3-ubyte.gz",
        "idx-empty-idx3-ubyte", "idx-magic-idx3-ubyte", "idx-truncated-idx3-ubyte", "idx-ndim0-idx3-ubyte",
        "idx-notgzip-idx3-ubyte.gz", "zero-d.npy", "one-d.npy", "empty.npy", "no-features.npy", "complex.npy",
        "strings.npy", "nan.npy", "inf.npy", "huge-values.npy", "five-d.npy", "one-sample.npy", "objects.npy",
        "terabytes.npy", "garbage.npy", "empty.npz", "two-arrays.npz", "garbage.npz", "text.csv", "ragged.csv",
        "empty.csv", "header-only.csv", "big-png", "broken-png", "mixed-sizes", "no-images", "top-and-sub",
        "no/such/path", "big.png",
    ]  # fmt: skip
    cases = []
    for name in files:
        cases.append((f"train on {name}", ["train", "--data", w / name, "--out", w / "out" / name, "--epochs", "1"]))
        cases.append(
            (
                f"pca on {name}",
                [
                    "train",
                    "--model",
                    "pca",
                    "--n-components",
                    "2",
                    "--data",
                    w / name,
                    "--out",
                    w / "out" / f"pca-{name}",
                ],
            )
        )
    return cases


def option_cases(w: Path) -> list[tuple[str, list]]:
    train = ["train", "--data", "digits", "--epochs", "1"]
    bad = [
        ["--seed", "-1"], ["--batch-size", "1"], ["--batch-size", "0"], ["--weight-decay", "-1"], ["--lr", "0"],
        ["--lr", "nan"], ["--n-components", "0"], ["--n-components", "-3"], ["--patience", "-1"],
        ["--epochs", "0"], ["--epochs", "x"], ["--validation-fraction", "1"], ["--validation-fraction", "-0.1"],
        ["--hidden", "0-5"], ["--hidden", "abc"], ["--denoise", "gaussian:-1"], ["--denoise", "blur:0.1"],
        ["--sparse", "l1:x"], ["--beta", "-1"], ["--test-size", "1.5"], ["--test-size", "0"],
        ["--image-size", "0x5"], ["--model", "conv", "--kernel-size", "2"], ["--model", "conv", "--channels", "0"],
        ["--no-such-option"], ["--device", "tpu"], ["--max-image-pixels", "0"],
    ]  # fmt: skip
    cases = [(f"train {' '.join(b)}", [*train, *b, "--out", w / "out" / f"opt{i}"]) for i, b in enumerate(bad)]
    m, ix = w / "model", w / "index"
    cases += [
        ("search -k 0", ["search", ix, "--query", "train:1", "-k", "0"]),
        ("search -k -5", ["search", ix, "--query", "train:1", "-k", "-5"]),
        ("search unknown id", ["search", ix, "--query", "nope:1"]),
        ("search wide npy", ["search", ix, "--query", w / "q-wide.npy"]),
        ("search two-row npy", ["search", ix, "--query", w / "q-two.npy"]),
        ("search junk png", ["search", ix, "--query", w / "q-junk.png"]),
        ("search huge png", ["search", ix, "--query", w / "big.png"]),
        ("search --beside without --figure", ["search", ix, "--query", "train:1", "--beside", ix]),
        ("search no index", ["search", w / "nothing", "--query", "train:1"]),
        ("generate --grid 100000", ["generate", m, "--grid", "100000", "--out", w / "out" / "g1.png"]),
        ("generate --grid 1", ["generate", m, "--grid", "1", "--out", w / "out" / "g2.png"]),
        ("generate --sample 100000000", ["generate", m, "--sample", "100000000", "--out", w / "out" / "g3.png"]),
        ("generate --sample 0", ["generate", m, "--sample", "0", "--out", w / "out" / "g4.png"]),
        ("generate --steps 100000000", ["generate", m, "--interpolate", w / "q-uint8.npy", w / "q-uint8.npy", "--steps", "100000000", "--out", w / "out" / "g5.png"]),
        ("generate --box bad", ["generate", m, "--sample", "4", "--box", "1,2", "--out", w / "out" / "g6.png"]),
        ("generate --dims bad", ["generate", m, "--grid", "4", "--dims", "0,0", "--out", w / "out" / "g7.png"]),
        ("generate from an index", ["generate", ix, "--grid", "4", "--out", w / "out" / "g8.png"]),
        ("encode wide data", ["encode", m, "--data", w / "q-wide.npy", "--out", w / "out" / "c.npy"]),
        ("evaluate other data", ["evaluate", m, "--data", w / "texts"]),
        ("index --batch-size 0", ["index", m, "--data", "digits", "--out", w / "out" / "i1", "--batch-size", "0"]),
        ("index neither --out nor --add", ["index", m, "--data", "digits"]),
        ("index --space code without model", ["index", "--data", "digits", "--out", w / "out" / "i2"]),
        ("index --add other space", ["index", "--add", ix, "--data", w / "q-wide.npy", "--space", "pixels"]),
        ("evaluate-retrieval --n-queries 0", ["evaluate-retrieval", "--index", ix, "--queries", "digits", "--n-queries", "0", "--out", w / "out" / "r"]),
        ("text train garbage tar.gz", ["text", "train", "--data", w / "garbage.tar.gz", "--out", w / "out" / "t1"]),
        ("text train empty folder", ["text", "train", "--data", w / "empty-texts", "--out", w / "out" / "t2"]),
        ("text train binary texts", ["text", "train", "--data", w / "binary-texts", "--out", w / "out" / "t3"]),
        ("text train --n-components 0", ["text", "train", "--data", w / "texts", "--out", w / "out" / "t4", "--n-components", "0"]),
        ("text train --vocabulary 0", ["text", "train", "--data", w / "texts", "--out", w / "out" / "t5", "--vocabulary", "0"]),
        ("text train --epochs 0", ["text", "train", "--data", w / "texts", "--out", w / "out" / "t6", "--epochs", "0"]),
        ("text search unknown words", ["text", "search", w / "text", "--query", "zzzz qqqq"]),
        ("text search empty query", ["text", "search", w / "text", "--query", ""]),
        ("text search -k 0", ["text", "search", w / "text", "--query", "orbit", "-k", "0"]),
        ("text search an image index", ["text", "search", ix, "--query", "orbit"]),
        ("no command", []),
        ("unknown command", ["frobnicate"]),
        ("export an index folder", ["export", ix, "--out", w / "out" / "x1"]),
        ("export --format tflite", ["export", m, "--format", "tflite", "--out", w / "out" / "x2"]),
        ("export a document search", ["export", w / "text", "--out", w / "out" / "x3"]),
        ("encode --stream to .npy", ["encode", m, "--data", w / "q-two.npy", "--stream", "--out", w / "out" / "x4.npy"]),
        ("encode wide data to parquet", ["encode", m, "--data", w / "q-wide.npy", "--out", w / "out" / "x5.parquet"]),
        ("index --from junk", ["index", "--from", w / "junk.parquet", "--out", w / "out" / "x6"]),
        ("index --from no code column", ["index", "--from", w / "no-code.parquet", "--out", w / "out" / "x7"]),
        ("index --from code as text", ["index", "--from", w / "text-code.parquet", "--out", w / "out" / "x8"]),
        ("index --from a null id", ["index", "--from", w / "null-id.parquet", "--out", w / "out" / "x9"]),
        ("index --from an id twice", ["index", "--from", w / "same-id.parquet", "--out", w / "out" / "x10"]),
        ("index --from a NaN code", ["index", "--from", w / "nan-code.parquet", "--out", w / "out" / "x11"]),
        ("index --from of another model", ["index", w / "model", "--from", w / "no-code.parquet", "--out", w / "out" / "x12"]),
        ("index --from and --stream", ["index", "--from", w / "codes.parquet", "--stream", "--out", w / "out" / "x13"]),
        ("index --from no such file", ["index", "--from", w / "none.parquet", "--out", w / "out" / "x14"]),
        ("index --engine http://", ["index", m, "--data", "digits", "--out", w / "out" / "x15", "--engine", "http://h:1/c"]),
        ("index --engine a path out", ["index", m, "--data", "digits", "--out", w / "out" / "x16", "--engine", "milvus://../../x.db/c"]),
        ("index --engine port 0", ["index", m, "--data", "digits", "--out", w / "out" / "x17", "--engine", "milvus://h:0/c"]),
        ("index --engine bad collection", ["index", m, "--data", "digits", "--out", w / "out" / "x18", "--engine", "milvus://a.db/1-x"]),
        ("index --engine with --add", ["index", "--add", w / "index-copy", "--data", "digits", "--split", "test", "--engine", "milvus://a.db/c"]),
        ("index --engine with --shards", ["index", "--space", "pixels", "--data", "digits", "--out", w / "out" / "x19", "--kind", "ivfpq", "--shards", "2", "--engine", "milvus://a.db/c"]),
        ("serve a pixel index", ["serve", w / "hnsw", "--port", "18734"]),
        ("serve an index --split", ["serve", ix, "--split", "test", "--port", "18735"]),
        ("train --log-dir for pca", ["train", "--data", "digits", "--model", "pca", "--log-dir", w / "out" / "logs", "--out", w / "out" / "x20"]),
    ]  # fmt: skip
    out, t = w / "out", w / "text"
    # options that have no meaning for the input: each must be refused, not ignored
    cases += [
        ("serve a document search --data digits", ["serve", t, "--data", "digits", "--port", "18731"]),
        ("serve a document search --split test", ["serve", t, "--split", "test", "--port", "18732"]),
        ("serve a document search --image-size 8x8", ["serve", t, "--image-size", "8x8", "--port", "18733"]),
        ("search --data without --figure", ["search", ix, "--query", "train:1", "--data", "digits"]),
        ("generate --sample --box", ["generate", m, "--sample", "4", "--box", "zero", "--out", out / "n1.png"]),
        ("generate --sample --dims", ["generate", m, "--sample", "4", "--dims", "0,1", "--out", out / "n2.png"]),
        ("generate --grid --density", ["generate", m, "--grid", "4", "--dims", "0,1", "--density", "gmm", "--out", out / "n3.png"]),
        ("generate --grid --seed", ["generate", m, "--grid", "4", "--dims", "0,1", "--seed", "3", "--out", out / "n4.png"]),
        ("generate --sample --steps", ["generate", m, "--sample", "4", "--steps", "5", "--out", out / "n5.png"]),
        ("index --workers without --shards", ["index", m, "--data", "digits", "--out", out / "n6", "--workers", "2"]),
        ("index --space code --n-components", ["index", m, "--data", "digits", "--out", out / "n7", "--n-components", "5"]),
        ("index --space pixels --n-components", ["index", "--space", "pixels", "--data", "digits", "--out", out / "n8", "--n-components", "5"]),
        ("index --add --metric", ["index", "--add", w / "index-copy", "--data", "digits", "--split", "test", "--metric", "l2"]),
        ("index --add --kind", ["index", "--add", w / "index-copy", "--data", "digits", "--split", "test", "--kind", "hnsw"]),
        ("index --stream --split", ["index", "--space", "pixels", "--data", w / "q-two.npy", "--stream", "--split", "test", "--out", out / "n9"]),
        ("train --model pca --epochs", ["train", "--data", "digits", "--model", "pca", "--epochs", "5", "--out", out / "n10"]),
        ("train --model pca --denoise", ["train", "--data", "digits", "--model", "pca", "--denoise", "mask:0.5", "--out", out / "n11"]),
        ("train --model pca --lr", ["train", "--data", "digits", "--model", "pca", "--lr", "0.1", "--out", out / "n12"]),
        ("train --channels without conv", ["train", "--data", "digits", "--channels", "8-8", "--epochs", "1", "--out", out / "n13"]),
        ("train --model conv --hidden", ["train", "--data", "digits", "--model", "conv", "--hidden", "64", "--epochs", "1", "--out", out / "n14"]),
        ("train --pretrain-epochs without --pretrain", ["train", "--data", "digits", "--pretrain-epochs", "3", "--epochs", "1", "--out", out / "n15"]),
        ("train --workers in memory", ["train", "--data", "digits", "--workers", "2", "--epochs", "1", "--out", out / "n16"]),
        ("classify --init --hidden", ["classify", "--data", "digits", "--init", m, "--hidden", "64", "--epochs", "1", "--out", out / "n17"]),
        ("text train --binary --n-components", ["text", "train", "--data", w / "texts", "--binary", "16", "--n-components", "4", "--out", out / "n18"]),
    ]  # fmt: skip
    # values out of range: each refused where the option is read
    cases += [
        ("index --space pca --n-components 0", ["index", m, "--space", "pca", "--data", "digits", "--out", out / "r1", "--n-components", "0"]),
        ("index --space pcah --n-components -1", ["index", "--space", "pcah", "--data", "digits", "--out", out / "r2", "--n-components", "-1"]),
        ("reconstruct -n 0", ["reconstruct", m, "--data", "digits", "-n", "0", "--out", out / "r3.png"]),
        ("reconstruct -n -5", ["reconstruct", m, "--data", "digits", "-n", "-5", "--out", out / "r4.png"]),
        ("pack NaN rows", ["pack", "--data", w / "nan.npy", "--out", out / "r5"]),
        ("pack infinite rows", ["pack", "--data", w / "inf.npy", "--out", out / "r6"]),
        ("pack one NaN among rows", ["pack", "--data", w / "one-nan.npy", "--out", out / "r7"]),
        ("pack --samples-per-shard 0", ["pack", "--data", w / "one-sample.npy", "--out", out / "r8", "--samples-per-shard", "0"]),
        ("train --split-seed -1", ["train", "--data", w / "q-two.npy", "--split-seed", "-1", "--out", out / "r9"]),
        ("train --split-seed 2**40", ["train", "--data", w / "q-two.npy", "--split-seed", str(2**40), "--out", out / "r10"]),
        ("generate --seed -1", ["generate", m, "--sample", "4", "--seed", "-1", "--out", out / "r11.png"]),
        ("reconstruct --seed -1", ["reconstruct", m, "--data", "digits", "--noise", "mask:0.5", "--seed", "-1", "--out", out / "r12.png"]),
        ("text train --lr -1", ["text", "train", "--data", w / "texts", "--lr", "-1", "--out", out / "r13"]),
        ("text train --lr nan", ["text", "train", "--data", w / "texts", "--lr", "nan", "--out", out / "r14"]),
        ("text train --split-seed -3", ["text", "train", "--data", w / "texts", "--split-seed", "-3", "--out", out / "r15"]),
        ("evaluate-retrieval --n-queries -1", ["evaluate-retrieval", "--index", ix, "--queries", "digits", "--n-queries", "-1", "--out", out / "r16"]),
        ("index --shards 0", ["index", "--space", "pixels", "--data", "digits", "--out", out / "r17", "--kind", "ivfpq", "--shards", "0"]),
        ("index --workers 0", ["index", "--space", "pixels", "--data", "digits", "--out", out / "r18", "--kind", "ivfpq", "--shards", "2", "--workers", "0"]),
        ("train --workers -1", ["train", "--data", w / "top-and-sub", "--stream", "--workers", "-1", "--out", out / "r19"]),
        ("serve --port 70000", ["serve", m, "--data", "digits", "--port", "70000"]),
        ("serve --port -1", ["serve", m, "--data", "digits", "--port", "-1"]),
        ("serve --port 0", ["serve", m, "--data", "digits", "--port", "0"]),
        ("serve --port 65536", ["serve", m, "--data", "digits", "--port", "65536"]),
        ("train --n-components 1e9 weights", ["train", "--data", "digits", "--n-components", str(10**9), "--epochs", "1", "--out", out / "r20"]),
        ("train --hidden of 1e6 twice", ["train", "--data", "digits", "--hidden", "1000000-1000000", "--epochs", "1", "--out", out / "r21"]),
        ("text map of other words", ["text", "map", w / "text2d", "--data", w / "other-texts", "--out", out / "r22.png"]),
        ("text map of empty documents", ["text", "map", w / "text2d", "--data", w / "blank-texts", "--out", out / "r23.png"]),
    ]  # fmt: skip
    return cases


def folder_cases(w: Path) -> list[tuple[str, Path, list]]:
    """(name, folder to copy and damage, edit) -- each damaged copy is then used by a command."""

    def edit_json(name, change):
        def apply(folder):
            path = folder / name
            meta = json.loads(path.read_text())
            change(meta)
            path.write_text(json.dumps(meta))

        return apply

    def write(name, text):
        return lambda folder: (folder / name).write_text(text)

    def link(name, target):
        def apply(folder):
            (folder / name).unlink()
            (folder / name).symlink_to(target)

        return apply

    def link_database(target):
        def apply(folder):
            shutil.rmtree(folder / "codes.db")
            (folder / "codes.db").symlink_to(target.parent)

        return apply

    secret = w / "texts" / "space" / "0.txt"
    model = [
        ("config: unknown parameter", edit_json("config.json", lambda m: m["params"].update(nope=1))),
        ("config: wrong type", edit_json("config.json", lambda m: m["params"].update(n_components="four"))),
        ("config: missing fitted", edit_json("config.json", lambda m: m.pop("fitted"))),
        ("config: missing params", edit_json("config.json", lambda m: m.pop("params"))),
        ("config: negative image shape", edit_json("config.json", lambda m: m["fitted"].update(image_shape_=[-8, 8]))),
        ("config: shape of other size", edit_json("config.json", lambda m: m["fitted"].update(image_shape_=[4, 4]))),
        ("config: huge feature count", edit_json("config.json", lambda m: m["fitted"].update(n_features_in_=10**12))),
        ("config: hidden sizes text", edit_json("config.json", lambda m: m["fitted"].update(hidden_layer_sizes_="x"))),
        ("config: other class", edit_json("config.json", lambda m: m.update({"class": "Evil"}))),
        ("config: format version 99", edit_json("config.json", lambda m: m.update(format_version=99))),
        ("config: version text", edit_json("config.json", lambda m: m.update(format_version="1"))),
        ("config: a list", write("config.json", "[]")),
        ("config: deep nesting", write("config.json", "[" * 100_000 + "]" * 100_000)),
        ("config: not JSON", write("config.json", "{nope")),
        ("config: empty", write("config.json", "")),
        ("config: wrong activation", edit_json("config.json", lambda m: m["params"].update(activation="evil"))),
        ("config: epochs -1", edit_json("config.json", lambda m: m["params"].update(epochs=-1))),
        ("weights: garbage", write("model.safetensors", "garbage")),
        ("weights: missing", lambda f: (f / "model.safetensors").unlink()),
        ("weights: link outside", link("model.safetensors", secret)),
        ("config: link outside", link("config.json", secret)),
    ]
    index = [
        ("items: no labels", edit_json("items.json", lambda m: m.pop("labels"))),
        ("items: fewer ids", edit_json("items.json", lambda m: m.update(ids=m["ids"][:5]))),
        ("items: ids numbers", edit_json("items.json", lambda m: m.update(ids=list(range(len(m["ids"])))))),
        ("items: paths outside", edit_json("items.json", lambda m: m.update(paths=[str(secret)] * len(m["paths"])))),
        ("index: built_as hnsw on flat", edit_json("index.json", lambda m: m.update(built_as="hnsw"))),
        ("index: ef_search text", edit_json("index.json", lambda m: m["params"].update(ef_search="abc"))),
        ("index: metric unknown", edit_json("index.json", lambda m: m.update(metric="manhattan"))),
        ("index: metric l2 on IP vectors", edit_json("index.json", lambda m: m.update(metric="l2"))),
        ("index: count wrong", edit_json("index.json", lambda m: m.update(count=3))),
        ("index: data spec elsewhere", edit_json("index.json", lambda m: m["info"].update(data=str(w / "texts")))),
        ("index: split text", edit_json("index.json", lambda m: m["info"].update(split="../x"))),
        ("index: vectors garbage", write("vectors.faiss", "garbage")),
        ("index: vectors link outside", link("vectors.faiss", secret)),
    ]
    text = [
        ("search.json: model kind outside", edit_json("search.json", lambda m: m.update(models=["../../model"]))),
        ("documents.json: fewer lines", edit_json("documents.json", lambda m: m.update(first_lines=["x"]))),
    ]

    def tensors(change):
        """Change the weights, then record their new checksum: damage that a checksum cannot see."""

        def apply(folder):
            from safetensors.numpy import load_file, save_file

            weights = load_file(folder / "model.safetensors")
            change(weights)
            save_file(weights, folder / "model.safetensors")
            meta = json.loads((folder / "config.json").read_text())
            meta["files"]["model.safetensors"] = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
            (folder / "config.json").write_text(json.dumps(meta))

        return apply

    def first_weight(weights):
        return next(k for k in sorted(weights) if k.startswith("module.") and weights[k].ndim == 2)

    def digits(folder):  # a number of 100,000 digits where the feature count is
        text = (folder / "config.json").read_text()
        (folder / "config.json").write_text(text.replace('"n_features_in_": 64', '"n_features_in_": ' + "9" * 100_000))

    def swap(a, b):
        def apply(folder):
            (folder / a).rename(folder / "swap")
            (folder / b).rename(folder / a)
            (folder / "swap").rename(folder / b)

        return apply

    def vectorizer(change):
        return lambda folder: edit_json("autoencoder/model/config.json", lambda m: change(m["fitted"]["vectorizer"]))(
            folder
        )

    # folders whose JSON disagrees with their arrays, or holds values aelab never writes
    model += [
        (
            "weights: all NaN, checksum recomputed",
            tensors(
                lambda t: t.update(
                    {
                        k: np.full_like(v, np.nan)
                        for k, v in t.items()
                        if k.startswith("module.") and v.dtype.kind == "f"
                    }
                )
            ),
        ),
        (
            "weights: one infinite, checksum recomputed",
            tensors(lambda t: t[first_weight(t)].__setitem__((0, 0), np.inf)),
        ),
        (
            "weights: code sample of other width",
            tensors(lambda t: t.update(code_sample=np.ascontiguousarray(t["code_sample"][:, :5]))),
        ),
        (
            "weights: code sample 1-D",
            tensors(lambda t: t.update(code_sample=np.ascontiguousarray(t["code_sample"][:, 0]))),
        ),
        (
            "config: code sample labels of other length",
            edit_json("config.json", lambda m: m["fitted"].update(code_sample_labels_=[0, 1])),
        ),
        (
            "config: loss_ is code",
            edit_json("config.json", lambda m: m["fitted"].update(loss_="__import__('os').system('true')")),
        ),
        (
            "config: output activation unknown",
            edit_json("config.json", lambda m: m["fitted"].update(output_activation_="evil")),
        ),
        ("config: unknown fitted key", edit_json("config.json", lambda m: m["fitted"].update(transform=1))),
        (
            "config: hidden sizes of 1e9",
            edit_json("config.json", lambda m: m["fitted"].update(hidden_layer_sizes_=[10**9])),
        ),
        (
            "config: hidden sizes of 3e6 (bomb)",
            edit_json("config.json", lambda m: m["fitted"].update(hidden_layer_sizes_=[3_000_000])),
        ),
        (
            "config: params hidden sizes text",
            edit_json("config.json", lambda m: m["params"].update(hidden_layer_sizes=["a"])),
        ),
        ("config: 100,000-digit number", digits),
    ]
    index += [
        ("index: space code -> pixels", edit_json("index.json", lambda m: m.update(space="pixels"))),
        ("index: space code -> pca", edit_json("index.json", lambda m: m.update(space="pca"))),
        ("index: space code -> itq", edit_json("index.json", lambda m: m.update(space="itq"))),
        ("items: an id twice", edit_json("items.json", lambda m: m["ids"].__setitem__(1, m["ids"][0]))),
        ("index: image shape of other size", edit_json("index.json", lambda m: m["info"].update(image_shape=[4, 4]))),
        ("index: image shape 8x9", edit_json("index.json", lambda m: m["info"].update(image_shape=[8, 9]))),
    ]
    pixels = [("index: space pixels -> code", edit_json("index.json", lambda m: m.update(space="code")))]
    engine = lambda **change: edit_json("index.json", lambda m: m["engine"].update(change))  # noqa: E731
    milvus = [
        ("milvus: dimension 7", edit_json("index.json", lambda m: m.update(dimension=7))),
        ("milvus: metric l2", edit_json("index.json", lambda m: m.update(metric="l2"))),
        ("milvus: count 5", edit_json("index.json", lambda m: m.update(count=5))),
        ("milvus: database a path out", engine(lite="../../secret.db")),
        ("milvus: database an absolute path", engine(lite="/tmp/x.db")),
        ("milvus: database a link out", link_database(secret)),
        ("milvus: no such collection", engine(physical="digits_gone")),
        ("milvus: collection name with a quote", engine(physical='digits"; drop')),
        ("milvus: an engine aelab does not know", engine(kind="elastic")),
        ("milvus: database missing", lambda folder: shutil.rmtree(folder / "codes.db")),
    ]
    text += [
        ("search.json: code size 1e9", edit_json("search.json", lambda m: m.update(code_size=10**9))),
        ("search.json: count 5", edit_json("search.json", lambda m: m.update(count=5))),
        ("search.json: code size 3", edit_json("search.json", lambda m: m.update(code_size=3))),
        ("search: indexes swapped", swap("autoencoder", "lsa")),
        ("vectorizer: a pattern that never ends", vectorizer(lambda v: v.update(token_pattern="(a+)+$"))),
        ("vectorizer: a word twice", vectorizer(lambda v: v["vocabulary"].__setitem__(1, v["vocabulary"][0]))),
        ("vectorizer: a weight NaN", vectorizer(lambda v: v["idf"].__setitem__(0, float("nan")))),
    ]
    return (
        [(n, "model", e) for n, e in model]
        + [(n, "index", e) for n, e in index]
        + [(n, "hnsw", e) for n, e in pixels]
        + [(n, "milvus", e) for n, e in milvus]
        + [(n, "text", e) for n, e in text]
    )


def use(w: Path, kind: str, folder: Path) -> list:
    if kind == "model":
        return ["encode", folder, "--data", "digits", "--out", folder.with_suffix(".codes.npy")]
    if kind in ("index", "hnsw", "milvus"):
        return ["search", folder, "--query", "train:1", "--figure", folder.with_suffix(".png")]
    return ["text", "search", folder, "--query", "orbit rocket"]


def flips(w: Path, n: int) -> list[tuple[str, str]]:
    """Byte flips in binary files, each loaded once in one process: (case, outcome)."""
    code = """
import sys, shutil, numpy as np
from pathlib import Path
import aelab
from aelab.errors import AelabError
from aelab.search import Index
src, name, n, kind = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
size = (src / name).stat().st_size
for i in range(n):
    dst = src.with_name(f"{src.name}-flip{i}")
    shutil.copytree(src, dst)
    data = bytearray((dst / name).read_bytes())
    data[int(rng.integers(size))] ^= 1 << int(rng.integers(8))
    (dst / name).write_bytes(bytes(data))
    try:
        (aelab.load if kind == "model" else Index.load)(dst)
        print("accepted")
    except AelabError:
        print("clean")
    except Exception as exc:
        print("traceback", type(exc).__name__)
"""
    out = []
    for folder, name, kind in [
        ("model", "model.safetensors", "model"),
        ("index", "vectors.faiss", "index"),
        ("hnsw", "vectors.faiss", "index"),
    ]:
        r = subprocess.run(
            [sys.executable, "-c", code, str(w / folder), name, str(n), kind], capture_output=True, text=True
        )
        lines = r.stdout.split("\n")[:-1]
        if r.returncode != 0:
            lines += ["traceback"] * (n - len(lines))
        out += [(f"flip a byte of {folder}/{name}", line.split()[0]) for line in lines]
    return out


API = r"""
import io, sys, warnings
import numpy as np
from PIL import Image
import aelab
from aelab.errors import AelabError
from aelab.generate import interpolate
from aelab.search import Index
from aelab.text import DocumentModel, DocumentSearch

warnings.simplefilter("ignore")
ds = aelab.datasets.load("digits")
X, y = ds.train.X[:200], ds.train.y[:200]
pix = np.round(X * 255).astype(np.uint8)
small = dict(n_components=2, hidden_layer_sizes=(8,), epochs=1, random_state=0)
ae = aelab.AutoEncoder(**small).fit(X, image_shape=(8, 8))
ae_pix = aelab.AutoEncoder(**small).fit(pix)
docs = ["orbit rocket launch moon", "rocket moon orbit", "oven bake flour", "flour sugar oven"] * 4
V = np.random.default_rng(0).random((20, 4), dtype=np.float32)


def png_claiming(width, height, rows):
    def chunk(kind, data):
        import struct, zlib
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    import struct, zlib
    raw = b"".join(b"\0" + bytes([128]) * width for _ in range(rows))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def image_bytes(array, fmt, mode=None):
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format=fmt)
    return buffer.getvalue()


jpeg = image_bytes(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8), "JPEG")
png = image_bytes(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8), "PNG")
CASES = {
    "AutoEncoder(n_components=10**9).fit": lambda: aelab.AutoEncoder(n_components=10**9, epochs=1).fit(X),
    "AutoEncoder(hidden_layer_sizes=(10**6, 10**6)).fit": lambda: aelab.AutoEncoder(hidden_layer_sizes=(10**6, 10**6), epochs=1).fit(X),
    "Classifier(hidden_layer_sizes=(10**9,)).fit": lambda: aelab.Classifier(hidden_layer_sizes=(10**9,), epochs=1).fit(X, y),
    "ConvAutoEncoder(channels=(10**5, 10**5)).fit": lambda: aelab.ConvAutoEncoder(channels=(10**5, 10**5), epochs=1).fit(X, image_shape=(8, 8)),
    "ConvAutoEncoder.fit(image_shape=(-8, -8))": lambda: aelab.ConvAutoEncoder(epochs=1).fit(X, image_shape=(-8, -8)),
    "ConvAutoEncoder.fit(image_shape=(0, 64))": lambda: aelab.ConvAutoEncoder(epochs=1).fit(X, image_shape=(0, 64)),
    "ConvAutoEncoder.fit(image_shape=(64,))": lambda: aelab.ConvAutoEncoder(epochs=1).fit(X, image_shape=(64,)),
    "AutoEncoder.fit(image_shape=(-8, -8))": lambda: aelab.AutoEncoder(epochs=1).fit(X, image_shape=(-8, -8)),
    "AutoEncoder(hidden_layer_sizes=('a',))": lambda: aelab.AutoEncoder(hidden_layer_sizes=("a",), epochs=1).fit(X),
    "AutoEncoder(hidden_layer_sizes=(1.5,))": lambda: aelab.AutoEncoder(hidden_layer_sizes=(1.5,), epochs=1).fit(X),
    "AutoEncoder(hidden_layer_sizes=())": lambda: aelab.AutoEncoder(hidden_layer_sizes=(), epochs=1).fit(X),
    "AutoEncoder(n_components='a')": lambda: aelab.AutoEncoder(n_components="a", epochs=1).fit(X),
    "AutoEncoder(n_components=2.5)": lambda: aelab.AutoEncoder(n_components=2.5, epochs=1).fit(X),
    "ConvAutoEncoder(kernel_size='3')": lambda: aelab.ConvAutoEncoder(kernel_size="3", epochs=1).fit(X, image_shape=(8, 8)),
    "PCA(n_components='a')": lambda: aelab.PCA(n_components="a").fit(X),
    "ITQ(n_components='a')": lambda: aelab.ITQ(n_components="a").fit(X),
    "DocumentModel(n_components='a')": lambda: DocumentModel(n_components="a", kind="lsa").fit(docs),
    "DocumentModel(max_features='x')": lambda: DocumentModel(max_features="x", kind="lsa").fit(docs),
    "interpolate(10 values, 64 values)": lambda: interpolate(ae, X[0][:10], X[1]),
    "interpolate(64 values, 63 values)": lambda: interpolate(ae, X[0], X[1][:63]),
    "interpolate(two samples, one)": lambda: interpolate(ae, X[:2], X[1]),
    "DocumentSearch.build(['space shuttle'])": lambda: DocumentSearch.build(["space shuttle"], n_components=2),
    "DocumentSearch.build('space shuttle')": lambda: DocumentSearch.build("space shuttle", n_components=2),
    "DocumentSearch.build(None)": lambda: DocumentSearch.build(None, n_components=2),
    "DocumentSearch.build([1, 2])": lambda: DocumentSearch.build([1, 2], n_components=2),
    "AutoEncoder(binary=True, n_components=5)": lambda: aelab.AutoEncoder(binary=True, n_components=5, epochs=1).fit(X),
    "AutoEncoder(binary=True, n_components=12)": lambda: aelab.AutoEncoder(binary=True, n_components=12, epochs=1).fit(X),
    "DocumentModel(binary=True, n_components=5)": lambda: DocumentModel(binary=True, n_components=5, epochs=1).fit(docs),
    "Index.build(a 1-D array)": lambda: Index.build(V[0]),
    "Index.query(a 1-D array)": lambda: Index.build(V).query(V[0]),
    "Index.build(cosine, all zeros)": lambda: Index.build(np.zeros((5, 4), np.float32)),
    "Index.query(cosine, three zero vectors)": lambda: Index.build(V).query(np.zeros((3, 4), np.float32)),
    "Index.query(cosine, a zero vector)": lambda: Index.build(V).query(np.zeros((1, 4), np.float32)),
    "Index.build(an id twice)": lambda: Index.build(V[:3], ids=["a", "b", "a"]),
    "Index.add(an id it holds)": lambda: Index.build(V[:3], ids=["a", "b", "c"]).add(V[3:4], ids=["b"]),
    "AutoEncoder.fit(a 5-D array)": lambda: aelab.AutoEncoder(epochs=1).fit(np.zeros((20, 2, 2, 2, 2), np.float32)),
    "PCA.fit(a 6-D array)": lambda: aelab.PCA(2).fit(np.zeros((20, 2, 2, 2, 2, 2), np.float32)),
    "uint8 model, float32 pixels 0..255": lambda: ae_pix.transform(pix.astype(np.float32)),
    "uint8 model, int64 pixels 0..255": lambda: ae_pix.transform(pix.astype(np.int64)),
    "image model, float64 pixels 0..255": lambda: ae.transform(pix.astype(np.float64)),
    "uint8 model, reconstruction_error of float 0..255": lambda: ae_pix.reconstruction_error(pix.astype(np.float32)),
}
UPLOADS = {
    "upload: PNG of 10000x5000 with 50 rows of data": png_claiming(10000, 5000, 50),
    "upload: PNG of 64x64 with 3 rows of data": png_claiming(64, 64, 3),
    "upload: all-NaN float TIFF": image_bytes(np.full((8, 8), np.nan, np.float32), "TIFF", "F"),
    "upload: infinite float TIFF": image_bytes(np.full((8, 8), np.inf, np.float32), "TIFF", "F"),
    "upload: JPEG cut in half": jpeg[: len(jpeg) // 2],
    "upload: PNG cut in half": png[: len(png) // 2],
    "upload: no bytes": b"",
}
for name, case in CASES.items():
    try:
        case()
        print("accepted", name)
    except AelabError:
        print("clean", name)
    except Exception as exc:
        print("traceback", name, "|", type(exc).__name__)
from fastapi.testclient import TestClient
from aelab.serve import Explorer, create_app
client = TestClient(create_app(Explorer(ae, X[:50], y[:50], image_shape=(8, 8))), raise_server_exceptions=False)
for name, data in UPLOADS.items():
    answer = client.post("/api/neighbours", files={"file": ("q.png", data)})
    one_line = answer.status_code < 500 and "\n" not in str(answer.json().get("detail", ""))
    print("accepted" if answer.status_code == 200 else "clean" if one_line else "traceback", name)
"""


def api_cases() -> list[tuple[str, str]]:
    """The Python API's bad arguments and the explorer's bad uploads, in one process: (case, outcome)."""
    r = subprocess.run([sys.executable, "-c", API], capture_output=True, text=True)
    found = []
    for line in r.stdout.splitlines():
        outcome, name = line.split(" ", 1)
        found.append((f"api: {name.split(' | ')[0]}", outcome))
    if r.returncode != 0:
        found.append(("api: the script itself", f"traceback ({r.stderr.strip().splitlines()[-1][:200]})"))
    return found


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


def worker_cases(w: Path) -> list[tuple[str, str]]:
    """Commands with worker processes, killed with SIGKILL while their workers work: (case, outcome),
    "running" when a worker was still alive 2 s after its parent's death."""
    np.save(w / "big.npy", np.random.default_rng(0).random((400_000, 64), dtype=np.float32))
    image_folder(w / "train-images", n=200, size=28)
    assert run("pack", "--data", w / "train-images", "--out", w / "train-shards").returncode == 0
    index = ["index", "--space", "pixels", "--data", "big.npy", "--split", "all", "--kind", "ivfpq", "--shards", "4"]
    train = ["train", "--stream", "--workers", "2", "--epochs", "100", "--out"]
    cases = [
        ("kill -9 of index --shards 4 --workers 2", [*index, "--workers", "2", "--out", "k1"], 3, 0.5),
        ("kill -9 of train --stream (image folder) --workers 2", [*train, "k2", "--data", "train-images"], 2, 3.0),
        ("kill -9 of train --stream (shards) --workers 2", [*train, "k3", "--data", "train-shards"], 2, 3.0),
    ]
    out = []
    for name, argv, workers, settle in cases:
        proc = subprocess.Popen(
            [*AELAB, *argv],
            cwd=w,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ, SWEEP_LOG=os.devnull),
        )
        deadline = time.time() + 120
        while len(_children(proc.pid)) < workers and proc.poll() is None and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(settle)
        children = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        end = time.time() + 2
        while time.time() < end and any(_alive(c) for c in children):
            time.sleep(0.1)
        left = [c for c in children if _alive(c)]
        for c in left:
            os.kill(c, signal.SIGKILL)
        out.append(
            (f"{name} ({len(children)} workers)", "running" if left else "clean" if children else "no workers seen")
        )
    return out


OUTCOMES = ("clean", "traceback", "accepted", "written", "outside", "network", "overlimit", "running", "lost")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flips", type=int, default=40, help="byte flips per binary file")
    args = p.parse_args()
    w = Path(tempfile.mkdtemp(prefix="aelab-hostile-"))
    os.environ["AELAB_CACHE"] = str(w / "empty-cache")  # nothing cached: a download would be tried
    make_files(w)
    build(w)
    make_hostile_files(w)
    (w / "out").mkdir()
    old_secret = w / "texts" / "space" / "0.txt"
    jobs = [dict(name=name, argv=argv) for name, argv in data_cases(w) + option_cases(w)]
    jobs += [dict(name=name, argv=argv, secret=w / "secret") for name, argv in link_cases(w)]
    jobs += [dict(name=name, argv=[], env=env, bomb=True) for name, env in bomb_cases(w)]
    for i, (name, kind, edit) in enumerate(folder_cases(w) + network_cases(w)):
        copy = w / "damaged" / f"{kind}{i}"
        shutil.copytree(w / kind, copy)
        edit(copy)
        # paths stored in items.json are never opened: the figure is drawn from the built-in data set
        jobs.append(
            dict(name=f"{kind} folder, {name}", argv=use(w, kind, copy), expect_ok="paths outside" in name, secret=old_secret, bomb="bomb" in name)
        )  # fmt: skip

    def one(job):
        argv = [str(a) for a in job["argv"]]
        result = run(*argv, env=job.get("env"))
        outcome = classify(result, job.get("expect_ok", False), job.get("secret"), job.get("bomb", False))
        outputs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--out", "--figure", "--npy")]
        if outcome == "clean" and any(Path(out).exists() for out in outputs):
            outcome = "written"  # refused, yet it left a result
        return job["name"], outcome

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(one, jobs))
    outcomes = [(name, "clean" if outcome == "ok" else outcome) for name, outcome in outcomes]
    outcomes += api_cases()
    outcomes += worker_cases(w)
    outcomes += flips(w, args.flips)
    for name, outcome in outcomes:
        if outcome != "clean":
            print(f"{outcome:<10} {name}")
    counts = {k: sum(o == k for _, o in outcomes) for k in OUTCOMES}
    other = len(outcomes) - sum(counts.values())
    print(
        f"\n{len(outcomes)} bad inputs and faults tried: {counts['clean']} clean one-line errors, "
        f"{counts['traceback']} tracebacks, {counts['accepted']} silently accepted, {counts['written']} refused but "
        f"wrote a result, {counts['outside']} read a file "
        f"outside the inputs, {counts['network']} reached for the network, {counts['overlimit']} took memory past a "
        f"limit, {counts['running']} left workers running, {counts['lost']} data lost"
        + (f", {other} other" if other else "")
    )
    shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    main()
