"""The jobs: what each command does, from Python. A job run from Python and the command that calls
it give the same results; a request is checked when it is made, before any data is read."""

import numpy as np
import pytest
from PIL import Image

import aelab
from aelab.cli import main
from aelab.errors import AelabError
from aelab.jobs import (
    DataOptions,
    EncodeRequest,
    IndexRequest,
    SearchRequest,
    TrainRequest,
    encode,
    find,
    index,
    train,
)

TINY = dict(n_components=3, hidden_layer_sizes=(16,), epochs=3, batch_size=8, random_state=0)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """A small named folder of odd-sized grey images: two people, 14 images each."""
    folder = tmp_path_factory.mktemp("faces") / "people"
    rng = np.random.default_rng(0)
    for person, level in (("ada", 60), ("bob", 190)):
        (folder / person).mkdir(parents=True)
        for i in range(14):
            pixels = np.clip(rng.normal(level, 25, (11, 7)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / person / f"{i:02d}.png")
    return folder


def test_the_train_job_and_aelab_train_make_the_same_model(faces, tmp_path):
    lines = []
    result = train(TrainRequest(aelab.AutoEncoder(**TINY), DataOptions(str(faces)), tmp_path / "job"), log=lines.append)
    assert lines and lines[0].startswith("data: Dataset('people'") and not result.streamed
    assert result.lines[-1].startswith("test reconstruction error:") and "PCA-3" in result.lines[-1]
    argv = ["train", "--data", str(faces), "--out", str(tmp_path / "cli"), "--n-components", "3", "--hidden", "16"]
    assert main([*argv, "--epochs", "3", "--batch-size", "8", "--seed", "0", "--quiet"]) == 0
    X = aelab.datasets.load(str(faces)).test.X
    job, cli = aelab.load(tmp_path / "job"), aelab.load(tmp_path / "cli")
    np.testing.assert_array_equal(job.transform(X), cli.transform(X))
    assert job.image_shape_ == (11, 7)


def test_the_same_train_job_streams_a_folder_when_asked(faces, tmp_path):
    lines = []
    request = TrainRequest(aelab.AutoEncoder(**TINY), DataOptions(str(faces)), tmp_path / "s", stream=True, workers=0)
    streamed = train(request, log=lines.append)
    assert streamed.streamed and "28 samples of 11x7" in lines[0] and "decoded in the training process" in lines[0]
    assert streamed.lines[-1].startswith("reconstruction error on 28 training samples")  # every sample trains
    assert aelab.load(tmp_path / "s").image_shape_ == (11, 7)


def test_a_request_is_checked_when_made(faces, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(AelabError, match="already exists"):
        TrainRequest(aelab.AutoEncoder(), DataOptions(str(faces)), tmp_path / "taken")
    with pytest.raises(AelabError, match="epochs"):
        TrainRequest(aelab.AutoEncoder(epochs=-1), DataOptions("no such folder"), tmp_path / "new")
    with pytest.raises(AelabError, match="give --out INDEX for a new index, or --add INDEX"):
        IndexRequest(DataOptions(str(faces)))
    assert not (tmp_path / "new").exists()


def test_encode_index_and_find_from_python(faces, tmp_path):
    train(TrainRequest(aelab.AutoEncoder(**TINY), DataOptions(str(faces)), tmp_path / "model"))
    encoded = encode(EncodeRequest(tmp_path / "model", DataOptions(str(faces)), tmp_path / "codes.npy"))
    test_split = DataOptions(str(faces)).load().test.X
    codes = aelab.load(tmp_path / "model").transform(test_split)
    np.testing.assert_array_equal(np.load(tmp_path / "codes.npy"), codes)
    assert (encoded.n, encoded.code_size) == codes.shape
    built = index(IndexRequest(DataOptions(str(faces)), out=tmp_path / "index", model=tmp_path / "model"))
    assert built.added == len(built.index) == 22  # the training split: 80% of 28
    found = find(SearchRequest(tmp_path / "index", "train:0", k=3))
    assert [n["id"] for n in found.neighbours][0] == "train:0"
    assert main(["search", str(tmp_path / "index"), "--query", "train:0", "-k", "3", "--json"]) == 0


def test_a_job_refuses_a_model_without_codes(tmp_path, capsys):
    model = aelab.Classifier(hidden_layer_sizes=(8,), epochs=1, random_state=0)
    ds = aelab.datasets.load("digits")
    model.fit(ds.train.X[:50], ds.train.y[:50]).save(tmp_path / "clf")
    with pytest.raises(AelabError, match="holds a Classifier, not a model with codes"):
        encode(EncodeRequest(tmp_path / "clf", DataOptions("digits"), tmp_path / "c.npy"))
    assert not (tmp_path / "c.npy").exists()
