"""mkdocs hook: the architecture page's picture of the layers, drawn when the site is built from
the import-linter contract in pyproject.toml (the one that ``make lint`` checks), as inline SVG."""

import tomllib
from html import escape
from pathlib import Path

MARKER = "<!-- the layers, drawn from pyproject.toml -->"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
WIDTH, ROW, GAP = 560, 34, 14


def layers() -> list[str]:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    ordered = next(c for c in contracts if c["type"] == "layers")["layers"]
    return [" · ".join(name.strip().removeprefix("aelab.") for name in layer.split("|")) for layer in ordered]


def svg(names: list[str]) -> str:
    height = len(names) * (ROW + GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'role="img" aria-label="aelab\'s layers, each importing only those below it">'
    ]
    for i, name in enumerate(names):
        y = i * (ROW + GAP)
        parts.append(
            f'<rect x="80" y="{y}" width="{WIDTH - 160}" height="{ROW}" rx="6" fill="#e8eaf6" stroke="#3f51b5"/>'
            f'<text x="{WIDTH / 2}" y="{y + ROW / 2 + 5}" text-anchor="middle" font-family="sans-serif" '
            f'font-size="14">{escape(name)}</text>'
        )
        if i + 1 < len(names):
            x, top = WIDTH / 2, y + ROW
            parts.append(
                f'<path d="M{x} {top + 2} V{top + GAP - 2} M{x - 5} {top + GAP - 7} L{x} {top + GAP - 2} '
                f'L{x + 5} {top + GAP - 7}" stroke="#3f51b5" fill="none"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def on_page_markdown(text, page, **_):
    if MARKER in text:
        return text.replace(MARKER, svg(layers()))
    return text
