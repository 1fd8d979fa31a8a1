"""The ``aelab`` command: argument parsing over the Python API, nothing more. One module per command
group; each handler parses its arguments and calls the API.

Every user error ends as one line on stderr (``aelab: error: ...``) and a non-zero exit status.
Building the parser imports nothing heavy (no torch): ``aelab --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..errors import AelabError
from . import generate, models, search, text
from .common import Formatter

EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aelab",
        formatter_class=Formatter,
        description="Auto-encoders beside PCA: train, encode, reconstruct, evaluate, search, generate.",
        epilog="examples:\n  aelab demo\n  aelab train --data mnist --data-dir ../shared/data/mnist --out mnist-ae\n"
        "  aelab evaluate mnist-ae --data mnist --data-dir ../shared/data/mnist\n\n"
        "Run 'aelab COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"aelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in (models, search, text, generate):
        group.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except AelabError as exc:
        print(f"aelab: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("aelab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"aelab: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_ERROR
    return 0
