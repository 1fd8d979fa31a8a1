"""The ``aelab`` command: argument parsing over the Python API, nothing more. One module per command
group; each handler parses its arguments and calls the API.

Every user error ends as one line on stderr (``aelab: error: ...``) and a non-zero exit status.
Building the parser imports nothing heavy (no torch): ``aelab --help`` answers at once.

Under ``torchrun`` every rank runs the command; rank 0 tells the errors that every rank raises
alike, other ranks only their own (prefixed with their rank).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .. import __version__
from ..errors import AelabError, ParameterError
from . import anomalies, data, generate, models, search, serve, text
from .common import Formatter, Parser, as_options, limits_from
from .launch import LAUNCHED, LOST_PEER, in_ranks, lost_peer

EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="aelab",
        formatter_class=Formatter,
        description="Auto-encoders beside PCA: train, encode, reconstruct, evaluate, search, generate.",
        epilog="examples:\n  aelab demo\n  aelab train --data mnist --data-dir ../shared/data/mnist --out mnist-ae\n"
        "  aelab evaluate mnist-ae --data mnist --data-dir ../shared/data/mnist\n\n"
        "Run 'aelab COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"aelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in (models, data, search, anomalies, text, generate, serve):
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if os.environ.get(LAUNCHED) and in_ranks():  # a rank that aelab's launcher started ends with it
        from ..workers import die_with_parent

        die_with_parent()
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a wrong option or value (its one line is printed)
        return exc.code or 0
    args.argv = argv  # what a launcher of several processes gives each of them
    try:
        from ..limits import limits

        with limits(**limits_from(args)):
            args.func(args)
    except ParameterError as exc:  # a setting of the request: named as the option the user typed
        return _fail(as_options(str(exc)), exc)
    except AelabError as exc:
        return _fail(str(exc), exc)
    except KeyboardInterrupt:
        print("aelab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        return _fail("not enough memory for this request; ask for less (fewer samples, a smaller grid or batch)")
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        return _fail(f"{exc.strerror or exc}{where}")
    except Exception as exc:  # a bug: still one line, the traceback on request
        if os.environ.get("AELAB_DEBUG"):
            raise
        if lost_peer(exc):
            return _fail(LOST_PEER)
        return _fail(
            f"unexpected {type(exc).__name__}: {exc} (a bug in aelab; please report it with the command, and "
            "AELAB_DEBUG=1 to see where)"
        )
    finally:
        if in_ranks():  # under torchrun: leave the ranks' group
            from ..training.distributed import leave

            leave()
    return 0


def _fail(message: str, exc: BaseException | None = None) -> int:
    """The one line of an error: what was wrong and what to do (newlines from data folded away)."""
    line = " ".join(message.split())
    if in_ranks():  # a rank of a run of several processes
        from ..training.distributed import told_by_main, world

        if error_file := os.environ.get("TORCHELASTIC_ERROR_FILE"):  # for the launcher's report
            with open(error_file, "w") as f:
                json.dump({"message": line, "timestamp": int(time.time())}, f)
        if os.environ.get(LAUNCHED) or told_by_main(exc):  # the launcher (or rank 0) tells it
            return EXIT_ERROR
        line = line if world().is_main else f"(rank {world().rank}) {line}"
    print(f"aelab: error: {line}", file=sys.stderr)
    return EXIT_ERROR
