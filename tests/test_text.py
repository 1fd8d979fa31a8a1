import io
import json
import tarfile

import numpy as np
import pytest

from aelab.errors import DataError, ParameterError
from aelab.text import decode, load_text, parse_strip, strip
from conftest import SHARED_DATA

NEWS = SHARED_DATA / "20newsgroups" / "20news-bydate.tar.gz"

MESSAGE = """From: someone@example.com
Subject: engines

I think the V8 is louder.
> You wrote that the V6 was louder.
-- 
Someone, somewhere
"""


def test_any_bytes_decode_without_error():
    assert decode("café".encode()) == "café"
    assert decode("café".encode("latin-1")) == "café"  # not UTF-8: the Latin-1 fallback
    assert decode(b"\xef\xbb\xbfbom") == "bom"
    assert decode(bytes(range(256))).isprintable() is False  # junk decodes; control characters go
    assert "\x00" not in decode(b"a\x00b\x01c")


def test_strip_headers_quotes_and_signatures():
    stripped = strip(MESSAGE, parse_strip("all"))
    assert "From:" not in stripped and "V6" not in stripped and "somewhere" not in stripped
    assert "V8 is louder" in stripped
    assert strip(MESSAGE, parse_strip("none")) == MESSAGE
    with pytest.raises(ParameterError, match="cannot strip 'footers'"):
        parse_strip("headers,footers")


def test_folder_of_files_with_labels_encodings_junk_and_empty_documents(tmp_path):
    for label in ("cars", "space"):
        (tmp_path / label).mkdir()
        for i in range(5):
            (tmp_path / label / f"{i}.txt").write_text(f"{label} document {i}")
    (tmp_path / "cars" / "latin.txt").write_bytes("moteur à café".encode("latin-1"))
    (tmp_path / "space" / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "space" / "empty.txt").write_bytes(b"")
    corpus = load_text(str(tmp_path), test_size=0.25, seed=0)
    assert len(corpus.train) + len(corpus.test) == 13 and corpus.classes == ["cars", "space"]
    everything = corpus.split("all")
    texts = dict(zip(everything.ids, everything.texts))
    assert texts["cars/latin.txt"] == "moteur à café" and texts["space/empty.txt"] == ""
    assert set(corpus.test.labels.tolist()) == {"cars", "space"}  # stratified


def test_tar_archive_keeps_its_own_train_and_test_parts(tmp_path):
    archive = tmp_path / "news.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split, n in (("train", 4), ("test", 2)):
            for label in ("a", "b"):
                for i in range(n):
                    data = f"{label} text {i}".encode()
                    info = tarfile.TarInfo(f"news-{split}/{label}/{i}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    corpus = load_text(str(archive))
    assert (len(corpus.train), len(corpus.test)) == (8, 4) and corpus.classes == ["a", "b"]
    assert corpus.train.ids[0] == "news-train/a/0" and corpus.train.texts[0] == "a text 0"
    (tmp_path / "broken.tar.gz").write_bytes(archive.read_bytes()[:100])
    with pytest.raises(DataError, match="not a readable tar archive"):
        load_text(str(tmp_path / "broken.tar.gz"))


def test_csv_and_json_lines_tables(tmp_path):
    (tmp_path / "t.csv").write_text("id,body,topic\n" + "".join(f"{i},words {i},{'xy'[i % 2]}\n" for i in range(10)))
    corpus = load_text(str(tmp_path / "t.csv"), test_size=0.2)
    assert len(corpus.train) == 8 and corpus.classes == ["x", "y"]
    lines = [json.dumps({"text": f"doc {i}"}) for i in range(6)] + [""]
    (tmp_path / "t.jsonl").write_text("\n".join(lines))
    corpus = load_text(str(tmp_path / "t.jsonl"))
    assert corpus.classes is None and len(corpus.split("all")) == 6
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match="no text column"):
        load_text(str(tmp_path / "bad.csv"))
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(DataError, match="line 2 is not JSON"):
        load_text(str(tmp_path / "bad.jsonl"))
    with pytest.raises(DataError, match="no text collection"):
        load_text(str(tmp_path / "missing"))


@pytest.mark.slow
@pytest.mark.skipif(not NEWS.exists(), reason="../shared/data/20newsgroups is absent")
def test_20_newsgroups_bydate_straight_from_the_archive():
    corpus = load_text(str(NEWS), strip_parts=parse_strip("all"))
    assert (len(corpus.train), len(corpus.test)) == (11314, 7532)  # scikit-learn's counts for bydate
    assert len(corpus.classes) == 20 and corpus.train.labels[0] == "alt.atheism"
    assert np.mean([t.startswith("From:") for t in corpus.train.texts]) < 0.01  # raw: every message
