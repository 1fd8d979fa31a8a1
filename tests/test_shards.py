"""WebDataset shards: `aelab pack` writes them, training streams them with the batches of an
in-memory run (so the same weights, bit for bit), and a shard that is not a tar or was cut short
is refused in one line."""

import json
import tarfile

import numpy as np
import pytest
import torch

from aelab import AutoEncoder, datasets
from aelab.datasets import ShardRows, pack_shards
from aelab.errors import DataError
from conftest import run_cli, stop_after_epoch
from test_streaming import _image_folder

SETTINGS = dict(n_components=4, hidden_layer_sizes=(32,), epochs=2, batch_size=16, random_state=0, verbose=False)


def _same_weights(a, b):
    for k, v in a.module_.state_dict().items():
        assert torch.equal(b.module_.state_dict()[k], v), k


def test_packed_images_read_back_as_the_folder_s_pixels_and_labels(tmp_path):
    folder = _image_folder(tmp_path / "pictures")
    shards = pack_shards(folder, tmp_path / "shards", samples_per_shard=30)
    assert [s.name for s in shards] == ["shard-000000.tar", "shard-000001.tar", "shard-000002.tar"]
    with tarfile.open(shards[0]) as tar:  # the WebDataset layout: KEY.EXT members, a sample's files together
        assert tar.getnames()[:4] == ["000000000.cls", "000000000.png", "000000001.cls", "000000001.png"]
    assert json.loads((tmp_path / "shards" / "labels.json").read_text()) == ["colour", "grey"]
    import webdataset as wds  # the format's own reader reads them

    first = next(iter(wds.WebDataset([str(s) for s in shards], shardshuffle=False)))
    assert first["__key__"] == "000000000" and first["cls"] == b"0" and first["png"][:4] == b"\x89PNG"
    rows, images = ShardRows(tmp_path / "shards", workers=0), datasets.ImageRows(folder, workers=0)
    assert rows.shape == images.shape == (80, 13 * 11 * 3) and rows.image_shape == (13, 11, 3)
    assert rows.labels == images.labels
    assert np.array_equal(rows[:], images[:]) and np.array_equal(rows[[70, 2, 35]], images[[70, 2, 35]])


def test_training_streamed_from_image_shards_gives_the_in_memory_weights(tmp_path):
    """Each batch's samples are read from the shards where the tars' headers say they lie, and
    decoded in DataLoader workers: the batches of an in-memory run of the same pixels."""
    folder = _image_folder(tmp_path / "pictures")
    pack_shards(folder, tmp_path / "shards", samples_per_shard=25)
    rows = ShardRows(tmp_path / "shards", workers=2)
    streamed = AutoEncoder(**SETTINGS).fit(rows)  # shards are streamed by default
    in_memory = AutoEncoder(**SETTINGS).fit(datasets.ImageRows(folder)[:], image_shape=rows.image_shape)
    assert streamed.image_shape_ == (13, 11, 3)
    _same_weights(in_memory, streamed)


def test_training_streamed_from_npy_shards_gives_the_in_memory_weights(tmp_path):
    pixels = np.round(datasets.load("digits").train.X[:400] * 255).astype(np.uint8).reshape(-1, 8, 8)
    np.save(tmp_path / "pixels.npy", pixels)
    pack_shards(tmp_path / "pixels.npy", tmp_path / "shards", samples_per_shard=150)
    rows = ShardRows(tmp_path / "shards", workers=0)
    assert rows.shape == (400, 64) and rows.image_shape == (8, 8) and rows.labels is None
    _same_weights(AutoEncoder(**SETTINGS).fit(pixels.reshape(400, -1)), AutoEncoder(**SETTINGS).fit(rows))


def test_npy_samples_of_another_writer_read_in_row_order(tmp_path):
    import io

    F = np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    with tarfile.open(tmp_path / "foreign.tar", "w") as tar:
        for key in ("a", "b"):
            data = io.BytesIO()
            np.save(data, F)
            info = tarfile.TarInfo(f"{key}.npy")
            info.size = len(data.getvalue())
            tar.addfile(info, io.BytesIO(data.getvalue()))
    rows = ShardRows(tmp_path / "foreign.tar", workers=0)
    assert rows.shape == (2, 24) and np.array_equal(rows[1], np.arange(24, dtype=np.float32))


def test_aelab_pack_then_train_streams_the_shards(tmp_path):
    folder = _image_folder(tmp_path / "pictures", n=20)
    packed = run_cli("pack", "--data", folder, "--out", tmp_path / "shards", "--samples-per-shard", "16")
    assert packed.returncode == 0, packed.stderr
    assert packed.stdout.strip() == f"40 samples of 13x11x3, 2 labels in 3 shards: {tmp_path / 'shards'}"
    again = run_cli("pack", "--data", folder, "--out", tmp_path / "shards")
    assert again.returncode == 1 and "already exists" in again.stderr
    done = run_cli("train", "--data", tmp_path / "shards", "--out", tmp_path / "m", "--epochs", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    assert f"data: {tmp_path / 'shards'}: 40 samples of 13x11x3 in 3 WebDataset shards" in done.stdout
    assert (tmp_path / "m" / "config.json").exists()


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda b: b"this is no tar file at all\n" * 40, "is not a readable tar shard"),
        (lambda b: b[: len(b) // 2 + 100], "is not a readable tar shard"),
    ],
    ids=["not a tar", "truncated"],
)
def test_a_shard_that_is_not_a_tar_or_is_cut_short_is_one_line(tmp_path, damage, says):
    folder = _image_folder(tmp_path / "pictures", n=10)
    pack_shards(folder, tmp_path / "shards", samples_per_shard=8)
    bad = tmp_path / "shards" / "shard-000001.tar"
    bad.write_bytes(damage(bad.read_bytes()))
    done = run_cli("train", "--data", tmp_path / "shards", "--out", tmp_path / "m", "--epochs", "2")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"aelab: error: {bad} {says}") and "pack it again" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pictures", "shards"]  # nothing half-written


def test_a_sample_without_data_or_an_image_that_will_not_decode_is_one_line(tmp_path):
    import io

    good = io.BytesIO()
    np.save(good, np.zeros(4, np.uint8))
    with tarfile.open(tmp_path / "odd.tar", "w") as tar:
        for name, data in (("a.npy", good.getvalue()), ("b.txt", b"only a caption")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="sample 'b' of .* has no image or .npy"):
        ShardRows(tmp_path / "odd.tar")
    folder = _image_folder(tmp_path / "pictures", n=10)
    (folder / "grey" / "3.png").write_bytes((folder / "grey" / "0.png").read_bytes()[:100])
    pack_shards(folder, tmp_path / "shards")
    done = run_cli("train", "--data", tmp_path / "shards", "--workers", "1", "--out", tmp_path / "m", "--epochs", "2")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "aelab: error: shard-000000.tar:sample 13.png cannot be read as an image (OSError); remove or replace it"
    ]


def test_shards_load_in_memory_and_index_streamed_with_their_labels(tmp_path):
    from aelab.cli import main
    from aelab.search import Index

    folder = _image_folder(tmp_path / "pictures", n=15)
    pack_shards(folder, tmp_path / "shards", samples_per_shard=7)
    ds = datasets.load(tmp_path / "shards", test_size=0.2)  # what evaluate, encode and friends read
    assert (len(ds.train), len(ds.test)) == (24, 6) and ds.classes == ["colour", "grey"]
    assert ds.image_shape == (13, 11, 3)
    out = tmp_path / "index"
    assert main(["index", "--space", "pixels", "--data", str(tmp_path / "shards"), "--stream", "--out", str(out)]) == 0
    index = Index.load(out)
    assert len(index) == 30 and index.labels[:1] == ["colour"] and index.labels[-1] == "grey"


def test_a_run_on_shards_stopped_after_an_epoch_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """Resume from shards is exact: each epoch's batches come from the seed alone, and the
    decoding workers that read them (one here) are started again for the resumed run."""
    folder = _image_folder(tmp_path / "pictures", n=20)
    pack_shards(folder, tmp_path / "shards", samples_per_shard=16)
    settings = dict(SETTINGS, epochs=4, denoise="gaussian:0.2")
    stop_after_epoch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        AutoEncoder(**settings).fit(ShardRows(tmp_path / "shards", workers=1), checkpoint_dir=tmp_path / "ckpt")
    monkeypatch.undo()
    rows = ShardRows(tmp_path / "shards", workers=1)
    resumed = AutoEncoder(**settings).fit(rows, checkpoint_dir=tmp_path / "ckpt", resume=True)
    _same_weights(AutoEncoder(**settings).fit(rows), resumed)


def test_a_shard_member_over_the_file_size_limit_is_refused_before_it_is_read(tmp_path):
    from aelab.limits import limits

    np.save(tmp_path / "rows.npy", np.zeros((3, 100), np.float32))
    pack_shards(tmp_path / "rows.npy", tmp_path / "shards")
    with limits(file_bytes=300), pytest.raises(DataError, match=r"000000000.npy is 528 bytes: 528 is over the limit"):
        ShardRows(tmp_path / "shards")
