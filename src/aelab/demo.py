"""The main job, ``aelab demo``: a deep auto-encoder beside PCA on the built-in digits.

Trains an auto-encoder and PCA with a 2-D code (for the map) and with a larger code (for
reconstruction), and writes a report folder: figures, metrics, the trained models and an HTML page.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from . import datasets, report
from .models import AutoEncoder
from .storage import atomic_path, save_json

CODE_SIZES = (2, 16)
#: A smaller version of the default deep MLP, sized for 8x8 images and a one-minute demo.
DEMO_MODEL = dict(hidden_layer_sizes=(256, 128, 64), epochs=150, batch_size=64, patience=30)


def run_demo(
    out: str | os.PathLike,
    *,
    data: str = "digits",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Train, compare and report; returns the path of the HTML report inside ``out``."""
    started = time.perf_counter()
    ds = datasets.load(data, seed=seed)
    log(f"data: {ds!r}")
    models, pairs = {}, []
    for k in CODE_SIZES:
        log(f"training a {'-'.join(map(str, (ds.n_features, *DEMO_MODEL['hidden_layer_sizes'], k)))} auto-encoder ...")
        ae = AutoEncoder(n_components=k, random_state=seed, verbose=progress, **DEMO_MODEL)
        models[f"autoencoder-{k}"] = ae.fit(ds.train.X, image_shape=ds.image_shape)
        models[f"pca-{k}"] = report.pca_twin(ae, ds)
        pairs.append((f"autoencoder-{k}", f"pca-{k}"))
    metrics = {name: report.model_metrics(m, ds) for name, m in models.items()}
    sentences = report.account(metrics, pairs)
    table = report.comparison_table(metrics)

    with atomic_path(out, overwrite) as tmp:
        tmp.mkdir()
        figures = report.write_figures(tmp, models, ds)
        for name, m in models.items():
            m.save(tmp / "models" / name)
        save_json(
            tmp / "metrics.json", {"data": ds.name, "n_train": len(ds.train), "n_test": len(ds.test), "models": metrics}
        )
        notes = [
            f"Data: {ds.name}, {len(ds.train)} training and {len(ds.test)} test samples. Errors are the "
            "squared error summed over pixels, averaged over samples. Models are in models/: reload one with "
            "aelab.load(path) or run `aelab evaluate models/NAME --data digits`.",
            f"Made by aelab demo in {time.perf_counter() - started:.0f} s.",
        ]
        report.write_html(
            tmp / "report.html", "aelab demo: deep auto-encoder beside PCA", sentences, table, figures, notes
        )
    log("\n" + table + "\n")
    for s in sentences:
        log(s)
    return Path(out) / "report.html"
