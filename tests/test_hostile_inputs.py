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
from aelab.errors import AelabError, DataError, ModelError, ParameterError
from aelab.search import Index
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
    assert "unexpected" not in err, err  # the last-resort catch of a bug
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
def test_a_tampered_items_path_is_never_opened(trained, tmp_path, capsys):
    secret = tmp_path / "secret.png"
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(secret)
    index = copy_of(trained / "index", tmp_path / "index")
    items = json.loads((index / "items.json").read_text())
    items["ids"] = ["elsewhere:0"] * len(items["ids"])  # no id of the collection: the path would be used
    items["paths"] = [str(secret)] * len(items["paths"])
    (index / "items.json").write_text(json.dumps(items))
    OPENED.clear()
    _AUDITING.append(True)
    try:
        code = main(["search", str(index), "--query", str(trained / "q.npy"), "--figure", str(tmp_path / "f.png")])
    finally:
        _AUDITING.clear()
    assert str(secret) not in OPENED
    assert code in (0, 1)


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
    assert main(["search", str(index), "--query", "train:1", "--figure", str(tmp_path / "f.png"), "--data", "digits"]) == 0


@pytest.fixture(autouse=True, scope="module")
def _query_file(trained):
    np.save(trained / "q.npy", aelab.datasets.load("digits").test.X[:1])
