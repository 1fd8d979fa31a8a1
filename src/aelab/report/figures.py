"""Figures: reconstructions, 2-D code maps and training curves, each model beside PCA.

Figures are drawn on matplotlib ``Figure`` objects (no pyplot state, no display needed) and
written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..datasets import natural_sorted
from ..storage import atomic_path


def save_figure(fig: Figure, path: str | os.PathLike, overwrite: bool = False) -> Path:
    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, dpi=fig.dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    return Path(path)


def as_image(row: np.ndarray, image_shape: tuple[int, ...]) -> np.ndarray:
    """One flattened sample as something ``imshow`` can draw (colour clipped to [0, 1])."""
    return np.clip(row.reshape(image_shape), 0.0, 1.0) if len(image_shape) == 3 else row.reshape(image_shape)


def _show(ax, row, image_shape, vmin=None, vmax=None):
    """Draw one sample: an image, or for plain feature vectors a line of values per feature."""
    if image_shape is None:
        ax.plot(np.arange(len(row)), row, marker="o" if len(row) <= 32 else None, markersize=3, linewidth=1)
        pad = 0.05 * (vmax - vmin) if vmin is not None and vmax is not None and vmax > vmin else 0.0
        ax.set_ylim(None if vmin is None else vmin - pad, None if vmax is None else vmax + pad)
    else:
        img = as_image(row, image_shape)
        if img.ndim == 2:
            ax.imshow(img, cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
        else:
            ax.imshow(img, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def reconstruction_figure(
    originals: np.ndarray,
    reconstructions: dict[str, np.ndarray],
    image_shape: tuple[int, ...] | None,
    title: str | None = None,
) -> Figure:
    """Originals on the top row, one row of reconstructions per model under them."""
    rows = {"original": originals, **reconstructions}
    n = len(originals)
    fig = Figure(figsize=(max(1.0 * n, 4), 1.1 * len(rows) + (0.4 if title else 0)), dpi=100)
    axes = fig.subplots(len(rows), n, squeeze=False)
    # the originals set the grey scale; noisy inputs and reconstructions outside it are clipped
    lo, hi = (0.0, 1.0) if originals.min() >= 0 and originals.max() <= 1 else (originals.min(), originals.max())
    for r, (name, data) in enumerate(rows.items()):
        for c in range(n):
            _show(axes[r, c], data[c], image_shape, lo, hi)
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def code_map(
    codes: dict[str, np.ndarray],
    labels: np.ndarray | None = None,
    classes: list[str] | None = None,
    title: str | None = None,
) -> Figure:
    """2-D codes side by side, one panel per model, points coloured by label. Up to 10 labels
    get a legend in each panel; more (20 newsgroups) get one legend under the panels."""
    values = None if labels is None else np.array(natural_sorted(labels))
    many = values is not None and len(values) > 10
    fig = Figure(figsize=(5.0 * len(codes), 6.2 if many else 4.6), dpi=100)
    axes = fig.subplots(1, len(codes), squeeze=False)[0]
    for ax, (name, Z) in zip(axes, codes.items()):
        if Z.shape[1] != 2:
            raise ValueError(f"a code map needs 2-D codes; {name} has {Z.shape[1]}")
        if labels is None:
            ax.scatter(Z[:, 0], Z[:, 1], s=4, alpha=0.6)
        else:
            cmap = "tab20" if many else "tab10"
            for i, v in enumerate(values):
                pick = labels == v
                name_v = classes[int(v)] if classes is not None and np.issubdtype(type(v), np.integer) else str(v)
                ax.scatter(
                    Z[pick, 0],
                    Z[pick, 1],
                    s=5 if not many else 3,
                    alpha=0.7,
                    label=name_v,
                    color=_palette(cmap, i, len(values)),
                )
            if not many:
                ax.legend(markerscale=3, fontsize=7, loc="best", frameon=True)
        ax.set_title(name)
        ax.set_xlabel("code 1")
        ax.set_ylabel("code 2")
    if many:
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(
            handles, names, loc="lower center", ncol=min(5, len(names)), fontsize=7, markerscale=3, frameon=False
        )
        fig.subplots_adjust(bottom=0.26)
    if title:
        fig.suptitle(title)
    return fig


def _palette(cmap_name: str, i: int, n: int):
    from matplotlib import colormaps

    cmap = colormaps[cmap_name]
    return cmap(i % cmap.N) if n <= cmap.N else cmap(i / max(n - 1, 1))


def training_curves(histories: dict[str, list[dict]], title: str | None = None) -> Figure:
    """Training and validation loss per epoch, one line pair per model."""
    fig = Figure(figsize=(6.4, 4.2), dpi=100)
    ax = fig.subplots()
    for i, (name, history) in enumerate(histories.items()):
        epochs = [h["epoch"] for h in history]
        color = f"C{i}"
        ax.plot(epochs, [h["loss"] for h in history], color=color, label=f"{name} train")
        if history and "val_loss" in history[0]:
            ax.plot(epochs, [h["val_loss"] for h in history], color=color, linestyle="--", label=f"{name} validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training objective per sample")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def confusion_matrix_figure(
    y_true: np.ndarray, y_pred: np.ndarray, classes: list | None = None, title: str | None = None
) -> Figure:
    """Counts of true class (rows) against predicted class (columns), with the counts written in."""
    from sklearn.metrics import confusion_matrix

    labels = np.array(natural_sorted(np.concatenate([y_true, y_pred])))
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    names = [
        str(classes[int(v)])
        if classes is not None and np.issubdtype(labels.dtype, np.integer) and 0 <= int(v) < len(classes)
        else str(v)
        for v in labels
    ]
    size = max(4.0, 0.45 * len(labels) + 2)
    fig = Figure(figsize=(size + 1, size), dpi=100)
    ax = fig.subplots()
    im = ax.imshow(counts, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_xticks(range(len(names)), names, rotation=90 if len(names) > 10 else 0)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if len(labels) <= 20:
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(
                    j,
                    i,
                    str(counts[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if counts[i, j] > counts.max() / 2 else "black",
                )
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(title or f"accuracy {accuracy:.4f}")
    return fig


def image_strip(
    images: np.ndarray,
    image_shape: tuple[int, ...] | None,
    titles: list[str],
    title: str | None = None,
    per_row: int = 11,
) -> Figure:
    """Samples side by side with a caption each: a query and its neighbours, a contact sheet."""
    n = len(images)
    cols = min(n, per_row)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(1.1 * cols + 0.4, 1.3 * rows + (0.4 if title else 0)), dpi=100)
    axes = fig.subplots(rows, cols, squeeze=False)
    lo, hi = (0.0, 1.0) if images.min() >= 0 and images.max() <= 1 else (images.min(), images.max())
    for i, ax in enumerate(axes.flat):
        if i < n:
            _show(ax, images[i], image_shape, lo, hi)
            ax.set_title(titles[i], fontsize=8)
        else:
            ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig


def precision_recall_figure(curves: dict[str, tuple], title: str | None = None) -> Figure:
    """Mean precision against recall, one line per index (space)."""
    fig = Figure(figsize=(5.5, 4.2), dpi=100)
    ax = fig.subplots()
    for i, (name, (recall, precision)) in enumerate(curves.items()):
        ax.plot(recall, precision, marker="o", markersize=3, label=name, color=_palette("tab10", i, len(curves)))
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return fig


def mosaic(images: np.ndarray, image_shape: tuple[int, ...], n_cols: int, gap: int = 1) -> np.ndarray:
    """Images tiled into one image of images, ``n_cols`` a row, separated by ``gap`` pixels."""
    h, w = image_shape[:2]
    n_rows = (len(images) + n_cols - 1) // n_cols
    extra = image_shape[2:] if len(image_shape) == 3 else ()
    out = np.ones((n_rows * (h + gap) - gap, n_cols * (w + gap) - gap, *extra), dtype=np.float32)
    for i, row in enumerate(images):
        r, c = divmod(i, n_cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = as_image(row, image_shape)
    return out


def generated_figure(
    images: np.ndarray,
    image_shape: tuple[int, ...],
    n_cols: int,
    title: str | None = None,
    codes: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    box: tuple[float, float, float, float] | None = None,
    dims=(0, 1),
) -> Figure:
    """Generated samples as one image of images; with ``codes``, beside it the scatter of the
    training codes coloured by label, with the sampled ``box`` drawn on it."""
    from matplotlib.patches import Rectangle

    if image_shape is None or len(image_shape) not in (2, 3):
        raise ValueError("generated samples are drawn as images: the model needs an image shape")
    tiles = mosaic(images, image_shape, n_cols)
    panels = 2 if codes is not None else 1
    fig = Figure(figsize=(6.0 * panels, 6.0), dpi=100)
    axes = fig.subplots(1, panels, squeeze=False)[0]
    axes[0].imshow(
        np.clip(tiles, 0, 1), cmap="gray" if tiles.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest"
    )
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    axes[0].set_title("decoded codes")
    if codes is not None:
        ax = axes[1]
        Z = codes[:, list(dims)]
        if labels is None:
            ax.scatter(Z[:, 0], Z[:, 1], s=3, alpha=0.5)
        else:
            values = np.array(natural_sorted(labels))
            for i, v in enumerate(values):
                pick = labels == v
                ax.scatter(
                    Z[pick, 0],
                    Z[pick, 1],
                    s=3,
                    alpha=0.6,
                    label=str(v),
                    color=_palette("tab10" if len(values) <= 10 else "tab20", i, len(values)),
                )
            ax.legend(markerscale=4, fontsize=7, loc="best")
        if box is not None:
            x0, x1, y0, y1 = box
            ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", linewidth=1.5))
            ax.set_xlim(
                min(x0, np.percentile(Z[:, 0], 0.5)) - 0.05 * (x1 - x0),
                max(x1, np.percentile(Z[:, 0], 99.5)) + 0.05 * (x1 - x0),
            )
            ax.set_ylim(
                min(y0, np.percentile(Z[:, 1], 0.5)) - 0.05 * (y1 - y0),
                max(y1, np.percentile(Z[:, 1], 99.5)) + 0.05 * (y1 - y0),
            )
        ax.set_title("training codes and the sampled box" if box is not None else "training codes")
        ax.set_xlabel(f"code {dims[0] + 1}")
        ax.set_ylabel(f"code {dims[1] + 1}")
    if title:
        fig.suptitle(title)
    return fig


def anomaly_curves_figure(curves: dict[str, dict], title: str | None = None) -> Figure:
    """ROC (left) and precision-recall (right) curves of anomaly detectors, one line each; ``curves``
    holds per detector ``fpr``, ``tpr``, ``recall``, ``precision`` and its ``auc`` and ``ap``."""
    fig = Figure(figsize=(10, 4.2), dpi=100)
    roc, pr = fig.subplots(1, 2)
    for i, (name, c) in enumerate(curves.items()):
        colour = _palette("tab10", i, len(curves))
        roc.plot(c["fpr"], c["tpr"], label=f"{name} (AUC {c['auc']:.3f})", color=colour, linewidth=1.2)
        pr.plot(c["recall"], c["precision"], label=f"{name} (AP {c['ap']:.3f})", color=colour, linewidth=1.2)
    roc.plot([0, 1], [0, 1], color="grey", linewidth=0.6, linestyle=":")
    roc.set_xlabel("false positive rate (normal items flagged)")
    roc.set_ylabel("true positive rate (anomalies flagged)")
    pr.set_xlabel("recall")
    pr.set_ylabel("precision")
    for ax in (roc, pr):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if ax is roc else "upper right")
    if title:
        fig.suptitle(title)
    return fig


def unusual_items_figure(
    items: np.ndarray,
    maps: np.ndarray | None,
    captions: list[str],
    image_shape: tuple[int, ...] | None,
    title: str | None = None,
) -> Figure:
    """Items side by side with a caption each (their score), and under each its reconstruction
    error map (a heat map, brighter where the model failed to rebuild it) when there are maps."""
    n = len(items)
    rows = 1 if maps is None else 2
    fig = Figure(figsize=(1.1 * n + 0.6, 1.3 * rows + (0.4 if title else 0)), dpi=100)
    axes = fig.subplots(rows, n, squeeze=False)
    lo, hi = (0.0, 1.0) if items.min() >= 0 and items.max() <= 1 else (items.min(), items.max())
    top = float(np.percentile(maps, 99.5)) if maps is not None and maps.size else 1.0  # a few pixels saturate
    for i in range(n):
        _show(axes[0, i], items[i], image_shape, lo, hi)
        axes[0, i].set_title(captions[i], fontsize=7)
        if maps is not None:
            heat = maps[i].reshape(image_shape) if image_shape else maps[i]
            if heat.ndim == 3:  # colour: the error summed over the channels
                heat = heat.sum(-1)
            if image_shape is None:
                _show(axes[1, i], heat, None, 0.0, top)
            else:
                axes[1, i].imshow(heat, cmap="inferno", vmin=0.0, vmax=top or 1.0, interpolation="nearest")
                axes[1, i].set_xticks([])
                axes[1, i].set_yticks([])
    axes[0, 0].set_ylabel("item", rotation=0, ha="right", va="center", fontsize=9)
    if maps is not None:
        axes[1, 0].set_ylabel("error", rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig
