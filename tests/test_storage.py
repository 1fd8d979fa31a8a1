"""Nothing lost: a replace killed at any step leaves the old result or the new one, the next run
cleans up after it, and two runs never write the same output at once."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aelab import AutoEncoder, datasets
from aelab.errors import ModelError, OutputBusyError
from aelab.models.torch_base import fit_to_folder
from aelab.search import Index
from aelab.storage import atomic_path, check_output, output_lock, read_tagged_folder, recover
from conftest import run_cli

# Each kill point patches the step named, in a child process, so that the process is SIGKILLed there.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import aelab.storage as st

    target, step, exchange = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "exchange"
    die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    real_fsync, real_exchange, real_replace = st._fsync_tree, st._exchange, os.replace
    if not exchange:
        st._exchange = lambda a, b: False
    if step == "writing":
        st._fsync_tree = die
    elif step == "written":
        st._fsync_tree = lambda p: (real_fsync(p), die())
    elif step == "swapped" and exchange:
        st._exchange = lambda a, b: (real_exchange(a, b), die())
    elif step == "aside":
        calls = []
        def replace(a, b):
            calls.append(a)
            if len(calls) == 2:  # the old folder is aside, the new one not yet in
                die()
            real_replace(a, b)
        os.replace = replace
    elif step == "swapped":
        os.replace = lambda a, b: (real_replace(a, b), die() if Path(b) == target else None)
    with st.atomic_path(target, overwrite=True) as tmp:
        tmp.mkdir()
        (tmp / "value").write_text("new")
    """
)


def _leftovers(target: Path) -> list[str]:
    return [p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]


STEPS = [(s, "exchange") for s in ("writing", "written", "swapped")]  # one atomic exchange of names
STEPS += [(s, "two-renames") for s in ("writing", "written", "aside", "swapped")]  # where there is none


@pytest.mark.parametrize(("step", "exchange"), STEPS)
def test_a_replace_killed_at_any_step_leaves_the_old_or_the_new_result(tmp_path, step, exchange):
    target = tmp_path / "result"
    target.mkdir()
    (target / "value").write_text("old")
    run = subprocess.run([sys.executable, "-c", KILLER, str(target), step, exchange], capture_output=True, text=True)
    assert run.returncode == -9, run.stderr  # killed where we asked
    assert _leftovers(target), "the killed writer left its temporary folder"
    if step != "aside":  # a kill between two renames is the one instant with no folder; recovery undoes it
        assert (target / "value").read_text() == ("new" if step == "swapped" else "old")
    check_output(target, overwrite=True)  # what the next run does first
    assert (target / "value").read_text() == ("new" if step == "swapped" else "old")
    assert _leftovers(target) == []


def test_reading_a_folder_that_a_killed_replace_moved_aside_puts_it_back(tmp_path):
    index = Index(metric="l2")
    index.add(__import__("numpy").eye(3, dtype="float32"), ["a", "b", "c"])
    index.save(tmp_path / "idx")
    run = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path / "idx"), "aside", "two-renames"], capture_output=True, text=True
    )
    assert run.returncode == -9 and not (tmp_path / "idx").exists()
    assert len(Index.load(tmp_path / "idx")) == 3 and _leftovers(tmp_path / "idx") == []


def test_the_folder_of_a_writer_still_at_work_is_left_alone(tmp_path):
    target = tmp_path / "result"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        recover(target)  # another run looking at the same output meanwhile
        assert tmp.is_dir()
        (tmp / "value").write_text("new")
    assert (target / "value").read_text() == "new" and _leftovers(target) == []


def test_a_second_run_into_the_same_output_is_refused_before_any_work(tmp_path):
    out = tmp_path / "model"
    X = datasets.load("digits").train.X[:50]
    with output_lock(out):
        with pytest.raises(OutputBusyError, match=f"process {os.getpid()}.* is writing .*model"):
            with output_lock(out):
                pass
        with pytest.raises(OutputBusyError):
            fit_to_folder(AutoEncoder(n_components=2, epochs=1), out, X)
        assert not (tmp_path / "model.checkpoint").exists()
    fit_to_folder(AutoEncoder(n_components=2, hidden_layer_sizes=(8,), epochs=1, random_state=0), out, X)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no lock file, no checkpoint left


def test_a_second_cli_run_is_refused_at_once(tmp_path):
    out = tmp_path / "m"
    with output_lock(out):
        run = run_cli("train", "--data", "digits", "--out", out, "--epochs", "1")
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "is writing" in run.stderr, run.stderr


def test_a_missing_folder_without_leftovers_is_still_one_line(tmp_path):
    with pytest.raises(ModelError, match="no model at"):
        read_tagged_folder(tmp_path / "nothing", "config.json", "aelab-model", 1, "model")
