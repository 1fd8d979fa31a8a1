"""Bad inputs and faults, tried as an adversarial user would: each case runs ``aelab`` in its own
process and is classified by what the user sees.

- clean: exit status 1 and exactly one line on stderr (``aelab: error: ...``);
- traceback: a Python traceback, a crash, or the last-resort "unexpected" line (a bug);
- accepted: exit status 0 where the input should have been refused (silently wrong);
- lost: a result that existed before the case is gone or damaged after it.

Also: byte flips at random offsets of a model's weights and of exact and HNSW index files, each
loaded once (refused = clean; loaded = accepted). Prints every case that is not clean, then the
totals in the form of issue 13's closing note.

    .venv/bin/python benchmarks/hostile_sweep.py [--flips 40]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

AELAB = [sys.executable, "-m", "aelab.cli"]


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*AELAB, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def classify(result: subprocess.CompletedProcess, expect_ok: bool = False) -> str:
    err = result.stderr
    if "Traceback" in err or result.returncode not in (0, 1) or "unexpected" in err:
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
    return [(n, "model", e) for n, e in model] + [(n, "index", e) for n, e in index] + [(n, "text", e) for n, e in text]


def use(w: Path, kind: str, folder: Path) -> list:
    if kind == "model":
        return ["encode", folder, "--data", "digits", "--out", folder.with_suffix(".codes.npy")]
    if kind == "index":
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flips", type=int, default=40, help="byte flips per binary file")
    args = p.parse_args()
    w = Path(tempfile.mkdtemp(prefix="aelab-hostile-"))
    make_files(w)
    build(w)
    (w / "out").mkdir()
    jobs = [(name, argv, False) for name, argv in data_cases(w) + option_cases(w)]
    for i, (name, kind, edit) in enumerate(folder_cases(w)):
        copy = w / "damaged" / f"{kind}{i}"
        shutil.copytree(w / kind, copy)
        edit(copy)
        # paths stored in items.json are never opened: the figure is drawn from the built-in data set
        jobs.append((f"{kind} folder, {name}", use(w, kind, copy), "paths outside" in name))
    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(lambda job: (job[0], classify(run(*job[1]), job[2])), jobs))
    outcomes = [(name, "clean" if outcome == "ok" else outcome) for name, outcome in outcomes]
    outcomes += flips(w, args.flips)
    for name, outcome in outcomes:
        if outcome != "clean":
            print(f"{outcome:<10} {name}")
    counts = {k: sum(o == k for _, o in outcomes) for k in ("clean", "traceback", "accepted", "lost")}
    print(
        f"\n{len(outcomes)} bad inputs and faults tried: {counts['clean']} clean one-line errors, "
        f"{counts['traceback']} tracebacks, {counts['accepted']} silently accepted, {counts['lost']} data lost"
    )
    shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    main()
