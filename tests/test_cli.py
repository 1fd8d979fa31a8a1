import json
import sys

import numpy as np
import pytest

import aelab
from aelab.cli import main
from conftest import assert_drawn, run_cli, write_idx

FAST = ["--n-components", "2", "--hidden", "32-16", "--epochs", "5", "--batch-size", "32", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "digits-ae"
    assert main(["train", "--data", "digits", "--out", str(out), *FAST]) == 0
    return out


def test_train_writes_a_loadable_model_and_reports_beside_pca(trained, capsys):
    model = aelab.load(trained)
    assert model.n_components == 2 and model.hidden_layer_sizes == (32, 16) and model.image_shape_ == (8, 8)
    assert not trained.with_name("digits-ae.checkpoint").exists()


def test_train_refuses_to_overwrite_a_finished_model(trained, capsys):
    before = (trained / "model.safetensors").read_bytes()
    assert main(["train", "--data", "digits", "--out", str(trained), *FAST]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (trained / "model.safetensors").read_bytes() == before


def test_encode_writes_codes_for_every_sample(trained, tmp_path, capsys):
    out = tmp_path / "codes.npy"
    assert main(["encode", str(trained), "--data", "digits", "--out", str(out)]) == 0
    codes = np.load(out)
    ds = aelab.datasets.load("digits")
    np.testing.assert_allclose(codes, aelab.load(trained).transform(ds.split("all").X), rtol=1e-5)
    assert main(["encode", str(trained), "--data", "digits", "--out", str(out)]) == 1  # no overwrite


def test_reconstruct_and_evaluate_write_figures(trained, tmp_path, capsys):
    fig = tmp_path / "rec.png"
    assert main(["reconstruct", str(trained), "--data", "digits", "--out", str(fig), "-n", "6"]) == 0
    assert_drawn(fig, images=True)
    assert main(["evaluate", str(trained), "--data", "digits", "--out", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr().out
    assert "digits-ae" in out and "pca-2" in out
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())["models"]
    ds = aelab.datasets.load("digits")
    assert metrics["pca-2"]["test_error"] == pytest.approx(
        aelab.PCA(2).fit(ds.train.X).reconstruction_error(ds.test.X), rel=1e-5
    )
    assert_drawn(tmp_path / "ev" / "reconstructions.png", images=True)
    assert_drawn(tmp_path / "ev" / "code_map.png", coloured=True)
    assert_drawn(tmp_path / "ev" / "training_curve.png", coloured=True)
    assert (tmp_path / "ev" / "report.html").read_text().count("data:image/png;base64,") >= 3  # the figures, inline


_run = run_cli


@pytest.mark.slow
@pytest.mark.parametrize(
    "setup, args, message",
    [
        (None, ["train", "--data", "no/such/file.npy", "--out", "m"], "no data at 'no/such/file.npy'"),
        ("truncated", ["train", "--data", "{tmp}/x-idx3-ubyte", "--out", "m"], "truncated"),
        ("nan", ["train", "--data", "{tmp}/nan.npy", "--out", "m"], "NaN or infinite"),
        (
            None,
            ["encode", "{model}", "--data", "{tmp}/wide.npy", "--out", "c.npy"],
            "has 10 features, but AutoEncoder is expecting 64",
        ),
        (None, ["evaluate", "{tmp}/not-a-model", "--data", "digits"], "no model at"),
    ],
)
def test_bad_input_gets_one_line_and_a_non_zero_status(tmp_path, trained, setup, args, message):
    write_idx(tmp_path / "x-idx3-ubyte", np.zeros((4, 3, 3)))
    (tmp_path / "x-idx3-ubyte").write_bytes((tmp_path / "x-idx3-ubyte").read_bytes()[:-5])
    np.save(tmp_path / "nan.npy", np.array([[0.1, np.nan]] * 5))
    np.save(tmp_path / "wide.npy", np.zeros((5, 10), np.float32))
    args = [a.format(tmp=tmp_path, model=trained) for a in args]
    result = _run(*args)
    assert result.returncode == 1
    assert result.stderr.startswith("aelab: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_every_command_has_help_with_examples():
    for command in ("demo", "train", "encode", "reconstruct", "evaluate"):
        assert main([command, "--help"]) == 0


@pytest.mark.slow
def test_demo_writes_the_report(tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["demo", "--out", str(out)]) == 0
    files = {p.name for p in out.iterdir()}
    assert {
        "report.html",
        "metrics.json",
        "reconstructions.png",
        "code_map.png",
        "training_curve.png",
        "models",
    } <= files
    metrics = json.loads((out / "metrics.json").read_text())["models"]
    assert set(metrics) == {"autoencoder-2", "pca-2", "autoencoder-16", "pca-16"}
    # the deep auto-encoder keeps more of each digit than PCA with the same code size
    assert metrics["autoencoder-2"]["test_error"] < metrics["pca-2"]["test_error"]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "PCA" in html
    assert f"report: {(out / 'report.html').resolve()}" in capsys.readouterr().out
    assert aelab.load(out / "models" / "autoencoder-2").n_components == 2


def test_progress_bar_stays_quiet_when_output_is_not_a_terminal(tmp_path, capsys):
    args = ["train", "--data", "digits", "--out", str(tmp_path / "m"), *FAST[:-1]]  # no --quiet
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "test reconstruction error" in captured.out and "PCA-2" in captured.out


@pytest.mark.slow
def test_progress_bar_shows_epoch_losses_and_speed_on_a_terminal(tmp_path):
    import os
    import pty

    args = [
        sys.executable,
        "-m",
        "aelab.cli",
        "train",
        "--data",
        "digits",
        "--out",
        str(tmp_path / "m"),
        *FAST[:-1],
        "--epochs",
        "20",
        "--batch-size",
        "8",
    ]
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout and stderr are a 120-column terminal
        import fcntl
        import struct
        import termios

        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        os.execv(sys.executable, args)
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "epoch 20/20" in text and "samples/s" in text and "val_loss=" in text


def test_table_data_round_trip_through_the_cli(tmp_path, capsys):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(120, 2))
    X = Z @ rng.normal(size=(2, 5)) * 10 + 100  # rank-2 table far from [0, 1]
    rows = ["a,b,c,d,e,kind"] + [
        ",".join(f"{v:.4f}" for v in x) + f",{'yes' if z[0] > 0 else 'no'}" for x, z in zip(X, Z)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    model = tmp_path / "m"
    assert (
        main(
            [
                "train",
                "--data",
                str(tmp_path / "t.csv"),
                "--out",
                str(model),
                "--n-components",
                "2",
                "--hidden",
                "16",
                "--epochs",
                "40",
                "--batch-size",
                "16",
                "--quiet",
            ]
        )
        == 0
    )
    ae = aelab.load(model)
    assert ae.output_activation_ == "linear" and ae.loss_ == "mse" and ae.image_shape_ is None
    assert main(["reconstruct", str(model), "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "r.png")]) == 0
    assert_drawn(tmp_path / "r.png", coloured=True)  # table rows are drawn as lines
    assert main(["evaluate", str(model), "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())["models"]
    assert metrics["m"]["knn_accuracy"] > 0.7  # the text labels came through as classes


def test_train_conv_with_combined_terms_and_reconstruct_noisy(idx_folder, tmp_path, capsys):
    out = tmp_path / "cae"
    assert (
        main(
            [
                "train",
                "--data",
                str(idx_folder),
                "--out",
                str(out),
                "--model",
                "conv",
                "--channels",
                "4-4",
                "--n-components",
                "3",
                "--unpooling",
                "nearest",
                "--denoise",
                "gaussian:0.2",
                "--sparse",
                "l1:1e-3",
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "reconstruction" in printed and "sparse" in printed and "PCA-3" in printed
    config = json.loads((out / "config.json").read_text())
    assert config["class"] == "ConvAutoEncoder"
    terms = {"denoise": "gaussian:0.2", "sparse": "l1:0.001", "keep_neighbours": 12.0, "n_neighbours": 15}
    assert config["fitted"]["terms_"] == terms  # keep_neighbours: 0.4 per input feature (6x5 images)
    figure = tmp_path / "noisy.png"
    assert main(["reconstruct", str(out), "--data", str(idx_folder), "--out", str(figure), "-n", "4"]) == 0
    assert "noisy input" in capsys.readouterr().out  # the model's own noise
    assert_drawn(figure, images=True)


@pytest.mark.parametrize(
    "option",
    [
        ["--denoise", "blur:1"],
        ["--sparse", "l1:x"],
        ["--contractive", "-1"],
        ["--model", "conv", "--pretrain", "greedy"],
    ],
)
def test_bad_term_options_are_one_line_errors(option, tmp_path, capsys):
    assert main(["train", "--data", "digits", "--out", str(tmp_path / "m"), *FAST, *option]) == 1
    err = capsys.readouterr().err
    assert err.startswith("aelab: error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m").exists()


def test_classify_with_few_labels_and_greedy_pretraining(tmp_path, capsys):
    out = tmp_path / "clf"
    assert (
        main(
            [
                "classify",
                "--data",
                "digits",
                "--n-labels",
                "300",
                "--pretrain",
                "greedy",
                "--pretrain-epochs",
                "2",
                "--hidden",
                "64-32",
                "--epochs",
                "20",
                "--batch-size",
                "32",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "300 labelled training samples, 1137 unlabelled" in printed
    accuracy = float(printed.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.7
    assert_drawn(out / "confusion-matrix.png", coloured=True)
    assert aelab.load(out).predict(aelab.datasets.load("digits").test.X[:3]).shape == (3,)
    assert main(["evaluate", str(out), "--data", "digits", "--out", str(tmp_path / "e")]) == 1
    assert "holds a Classifier" in capsys.readouterr().err


def test_classify_errors(trained, tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("a,b\n" + "\n".join(f"{i},{i * 2}" for i in range(20)))
    assert main(["classify", "--data", str(table), "--out", str(tmp_path / "c")]) == 1
    assert "has no labels" in capsys.readouterr().err
    assert main(["classify", "--data", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path / "c")]) == 1
    capsys.readouterr()
    assert (
        main(
            [
                "classify",
                "--data",
                "digits",
                "--init",
                str(trained),
                "--pretrain",
                "greedy",
                "--out",
                str(tmp_path / "c"),
                "--quiet",
            ]
        )
        == 1
    )
    assert "choose one start" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, message",
    [
        (["--epochs", "0"], "--epochs must be a whole number >= 1"),
        (["--weight-decay", "-1"], "--weight-decay must be a number >= 0"),
        (["--lr", "0"], "--lr must be a number > 0"),
        (["--model", "conv", "--validation-fraction", "1"], "--validation-fraction must be a number in [0, 1)"),
    ],
)
def test_bad_training_options_fail_in_one_line_before_the_data_is_read(option, message, tmp_path, capsys):
    assert main(["train", "--data", "no/such/data", "--out", str(tmp_path / "m"), *option]) == 1
    err = capsys.readouterr().err
    assert err.startswith("aelab: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert "no data at" not in err  # the options were checked first


@pytest.fixture
def faces(tmp_path):
    """40 grey 112x92 photos of 4 'people', one sub-folder each (named s1, s2, s3, s10)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for person in ("s1", "s2", "s3", "s10"):
        base = rng.random((112, 92)) * 255
        (tmp_path / "faces" / person).mkdir(parents=True)
        for i in range(10):
            img = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(tmp_path / "faces" / person / f"{i}.pgm")
    return tmp_path / "faces"


def test_a_code_larger_than_pca_can_be_is_compared_with_the_largest_pca(faces, tmp_path, capsys):
    model = tmp_path / "cae"  # the pooled maps as the code (--n-components 0): 8 x 14 x 12 = 1344 numbers
    assert (
        main(
            [
                "train",
                "--data",
                str(faces),
                "--model",
                "conv",
                "--n-components",
                "0",
                "--epochs",
                "1",
                "--quiet",
                "--out",
                str(model),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "PCA-32" in out and "the largest PCA" in out  # 32 training images
    assert main(["evaluate", str(model), "--data", str(faces), "--out", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())["models"]
    assert set(metrics) == {"cae", "pca-32"} and metrics["pca-32"]["n_components"] == 32


def test_labels_keep_their_names_in_natural_order_everywhere(faces, tmp_path, capsys):
    from aelab.report import confusion_matrix_figure

    ds = aelab.datasets.load(faces)
    assert ds.classes == ["s1", "s2", "s3", "s10"] and set(ds.train.y) <= set(ds.classes)
    fig = confusion_matrix_figure(ds.test.y, ds.test.y, ds.classes)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["s1", "s2", "s3", "s10"]
    model = tmp_path / "ae"
    assert (
        main(
            [
                "train",
                "--data",
                str(faces),
                "--n-components",
                "2",
                "--hidden",
                "16",
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--quiet",
                "--out",
                str(model),
            ]
        )
        == 0
    )
    assert main(["index", str(model), "--data", str(faces), "--out", str(tmp_path / "ix")]) == 0
    capsys.readouterr()
    assert main(["search", str(tmp_path / "ix"), "--query", "train:0", "-k", "3", "--json"]) == 0
    labels = {n["label"] for n in json.loads(capsys.readouterr().out)["neighbours"]}
    assert labels <= {"s1", "s2", "s3", "s10"}
    assert aelab.load(model).code_sample_labels_[0] in {"s1", "s2", "s3", "s10"}  # the generate scatter's legend
    assert main(["evaluate-samples", str(model), "--data", str(faces), "--grid", "3", "--json"]) == 0
    histogram = json.loads(capsys.readouterr().out.splitlines()[-1])["class_histogram"]
    assert list(histogram) == ["s1", "s2", "s3", "s10"]


def test_fashion_mnist_labels_are_named(tmp_path):
    from aelab.datasets.named import FASHION_CLASSES, load_idx_folder
    from conftest import write_idx

    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (20, 4, 4)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(20) % 10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 4, 4)))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(10))
    ds = load_idx_folder(tmp_path, "fashion-mnist")
    assert ds.test.y[9] == "Ankle boot" and ds.classes == FASHION_CLASSES


@pytest.mark.slow
@pytest.mark.parametrize("model", ["autoencoder", "conv"])
def test_defaults_train_and_evaluate_on_a_small_collection_of_odd_size(model, faces, tmp_path, capsys):
    out = tmp_path / model
    assert main(["train", "--data", str(faces), "--model", model, "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "chosen for 32 training samples" in printed and "batch size 16" in printed
    assert main(["evaluate", str(out), "--data", str(faces), "--out", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())["models"]
    assert len(metrics) == 2 and all(m["test_error"] > 0 for m in metrics.values())
