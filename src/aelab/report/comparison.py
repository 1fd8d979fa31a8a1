"""Comparisons and reports: every model's reconstruction error beside PCA of the same code size,
the figures that show it, and an HTML page that puts them together."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from sklearn.neighbors import KNeighborsClassifier

from ..datasets import Dataset
from ..models import PCA, CodeModel
from ..storage import atomic_path, check_output, fresh_path, save_json
from . import figures as plots
from .tables import comparison_table


def pca_twin(model: CodeModel, ds: Dataset) -> PCA:
    """PCA with the model's code size, fitted on the same training data; when the code is larger than
    PCA can be (more than the training samples or the features), the largest PCA there is."""
    size = min(model.code_size, len(ds.train.X), ds.n_features)
    return PCA(n_components=size).fit(ds.train.X, image_shape=ds.image_shape)


def twin_note(model: CodeModel, pca: PCA) -> str:
    """What a reader must know when the PCA beside a model is smaller than its code ("" otherwise)."""
    if pca.code_size == model.code_size:
        return ""
    return (
        f"the {model.code_size}-D code is larger than PCA can be on {pca.pca_.n_samples_} training samples of "
        f"{pca.n_features_in_} features, so it is compared with PCA-{pca.code_size}, the largest PCA there is"
    )


def model_metrics(model: CodeModel, ds: Dataset) -> dict:
    """Reconstruction error on train and test; for labelled data, 5-NN accuracy of test codes."""
    out = {
        "n_components": int(model.code_size),
        "train_error": model.reconstruction_error(ds.train.X),
        "test_error": model.reconstruction_error(ds.test.X),
    }
    if ds.train.y is not None and ds.test.y is not None:
        knn = KNeighborsClassifier(n_neighbors=5).fit(model.transform(ds.train.X), ds.train.y)
        out["knn_accuracy"] = float(knn.score(model.transform(ds.test.X), ds.test.y))
    for attr in ("n_epochs_", "best_epoch_", "training_seconds_"):
        if getattr(model, attr, None) is not None:
            out[attr.rstrip("_")] = getattr(model, attr)
    return out


def write_figures(folder: Path, models: dict[str, CodeModel], ds: Dataset, n_examples: int = 10) -> dict[str, Path]:
    """Reconstruction figure, 2-D code map (when there are 2-D models) and training curves."""
    figures = {}
    X = ds.test.X[:n_examples]
    recon = {name: m.reconstruct(X) for name, m in models.items()}
    figures["reconstructions"] = plots.save_figure(
        plots.reconstruction_figure(X, recon, ds.image_shape, title=f"{ds.name}: test samples and reconstructions"),
        folder / "reconstructions.png",
    )
    maps = {name: m.transform(ds.test.X) for name, m in models.items() if m.code_size == 2}
    if maps:
        figures["code_map"] = plots.save_figure(
            plots.code_map(maps, ds.test.y, ds.classes, title=f"{ds.name}: 2-D codes of the test samples"),
            folder / "code_map.png",
        )
    histories = {name: m.history_ for name, m in models.items() if getattr(m, "history_", None)}
    if histories:
        figures["training_curve"] = plots.save_figure(
            plots.training_curves(histories, title="training"), folder / "training_curve.png"
        )
    return figures


def account(metrics: dict[str, dict], pairs: list[tuple[str, str]]) -> list[str]:
    """Plain sentences comparing each auto-encoder with its PCA twin."""
    lines = []
    for ae, pca in pairs:
        a, p = metrics[ae], metrics[pca]
        change = (p["test_error"] - a["test_error"]) / p["test_error"]
        verdict = (
            f"{abs(change):.0%} lower than"
            if change > 0.005
            else f"{abs(change):.0%} higher than"
            if change < -0.005
            else "about the same as"
        )
        line = (
            f"With a {a['n_components']}-D code the auto-encoder's test reconstruction error is "
            f"{a['test_error']:.3f} per sample, {verdict} PCA's {p['test_error']:.3f}."
        )
        if "knn_accuracy" in a:
            line += (
                f" A 5-nearest-neighbour classifier on the codes reaches {a['knn_accuracy']:.1%} "
                f"(auto-encoder) against {p['knn_accuracy']:.1%} (PCA)."
            )
        lines.append(line)
    return lines


def write_html(
    path: Path, title: str, sentences: list[str], table: str, figures: dict[str, Path], notes: list[str] = ()
) -> None:
    """A single self-contained HTML page: figures inline as base64 PNG."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "img{max-width:100%}pre{background:#f4f4f4;padding:1em;overflow:auto}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    parts += [f"<p>{html.escape(s)}</p>" for s in sentences]
    parts.append(f"<h2>Metrics</h2><pre>{html.escape(table)}</pre>")
    captions = {
        "reconstructions": "Test samples (top row) and their reconstructions",
        "code_map": "2-D codes of the test samples, coloured by label",
        "training_curve": "Training and validation loss per epoch",
    }
    for key, fig_path in figures.items():
        data = base64.b64encode(Path(fig_path).read_bytes()).decode()
        parts.append(
            f"<h2>{html.escape(captions.get(key, key))}</h2><img alt='{key}' src='data:image/png;base64,{data}'>"
        )
    parts += [f"<p><small>{html.escape(n)}</small></p>" for n in notes]
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")


def evaluate_model(model: CodeModel, ds: Dataset, name: str, out=None, overwrite: bool = False) -> dict:
    """Reconstruction error (and 5-NN accuracy) of ``model`` beside PCA of its code size, with
    figures, ``metrics.json`` and an HTML report written atomically to the folder ``out`` (default:
    ``NAME-evaluation``, or ``-2``, ``-3``... so that nothing is overwritten).

    Returns ``{"out", "table", "sentences", "metrics"}``.
    """
    out = check_output(out, overwrite) if out else fresh_path(f"{name}-evaluation")
    model.check_n_features(ds.n_features, f"the data {ds.name}")
    if ds.image_shape is None:
        ds.image_shape = model.image_shape_
    models = {Path(name).name: model}
    short = Path(name).name
    sentences = []
    if not isinstance(model, PCA):
        twin = pca_twin(model, ds)
        models[f"pca-{twin.code_size}"] = twin
        sentences = [note[0].upper() + note[1:] + "."] if (note := twin_note(model, twin)) else []
    metrics = {n: model_metrics(m, ds) for n, m in models.items()}
    table = comparison_table(metrics)
    if len(models) > 1:
        sentences = account(metrics, [(short, f"pca-{twin.code_size}")]) + sentences
    with atomic_path(out, overwrite) as tmp:
        tmp.mkdir()
        figures = write_figures(tmp, models, ds)
        save_json(tmp / "metrics.json", {"data": ds.name, "models": metrics})
        write_html(tmp / "report.html", f"aelab evaluate: {short} on {ds.name}", sentences, table, figures)
    return {"out": Path(out), "table": table, "sentences": sentences, "metrics": metrics}
