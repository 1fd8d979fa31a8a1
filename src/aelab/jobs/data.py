"""What several jobs read the same way: the text collection that the data options name."""

from __future__ import annotations


def load_corpus(options, strip: str | None):
    """The text collection that ``options`` name (``data``, ``text_column``, ``label_column``,
    ``test_size``, ``split_seed``: a request, or the parsed options of a command), with the e-mail
    parts ``strip`` removed."""
    from ..text import load_text, parse_strip

    return load_text(
        options.data,
        strip_parts=parse_strip(strip),
        text_column=options.text_column,
        label_column=options.label_column,
        test_size=options.test_size,
        seed=options.split_seed,
    )
