"""Text: collections of documents, the vector-space model, document auto-encoders (beside LSA), and
a search engine with a map over a collection (query -> nearest documents -> topic)."""

from .corpus import Corpus, Documents, decode, load_text, parse_strip, strip
from .model import DocumentModel
from .search import DocumentSearch, Hit, Result, first_line, topic_shares
from .vectorize import WORDS, DocumentVectorizer

__all__ = [
    "Corpus",
    "DocumentModel",
    "DocumentSearch",
    "DocumentVectorizer",
    "Documents",
    "Hit",
    "Result",
    "WORDS",
    "decode",
    "first_line",
    "load_text",
    "parse_strip",
    "strip",
    "topic_shares",
]
