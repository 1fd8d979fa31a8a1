"""mkdocs hook: the commands page is made from aelab's own parser when the site is built."""

from aelab.cli.reference import markdown

MARKER = "<!-- the command reference, made from the parser -->"


def on_page_markdown(text, page, **_):
    if MARKER in text:
        return text.replace(MARKER, markdown())
    return text
