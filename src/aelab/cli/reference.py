"""The command reference as Markdown, made from the parser itself so that the documentation cannot
drift from the options: every command, its usage, its options (with their defaults, as ``--help``
shows them) and its examples. The documentation site's commands page is this text."""

from __future__ import annotations

import argparse


def markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """Every command of ``aelab`` (the sub-commands of ``aelab text`` included), in order."""
    if parser is None:
        from . import build_parser

        parser = build_parser()
    return "\n".join(_command(name, sub) for name, sub in _commands(parser, parser.prog))


def _commands(parser: argparse.ArgumentParser, prog: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
                if nested:
                    yield from _commands(sub, f"{prog} {name}")
                else:
                    yield f"{prog} {name}", sub


def _command(name: str, parser: argparse.ArgumentParser) -> str:
    formatter = parser._get_formatter()
    lines = [f"## `{name}`", "", parser.description or "", "", "```text", parser.format_usage().strip(), "```", ""]
    rows = [_row(formatter, action) for action in parser._actions if action.help is not argparse.SUPPRESS]
    rows = [row for row in rows if row]
    if rows:
        lines += ["| argument | what it does |", "| --- | --- |", *rows, ""]
    if parser.epilog:
        lines += ["```text", parser.epilog.strip(), "```", ""]
    return "\n".join(lines)


def _row(formatter: argparse.HelpFormatter, action: argparse.Action) -> str | None:
    if isinstance(action, argparse._HelpAction):
        return None
    if action.option_strings:
        metavar = "" if action.nargs == 0 else " " + formatter._format_args(action, action.dest.upper())
        names = ", ".join(f"`{option}{metavar}`" for option in action.option_strings)
    else:
        names = f"`{formatter._format_args(action, action.dest)}`"
    text = formatter._expand_help(action) if action.help else ""
    return f"| {names} | {_cell(text)} |"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
