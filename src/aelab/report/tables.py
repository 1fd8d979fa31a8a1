"""Plain-text tables: models beside PCA, retrieval figures of indexes, text retrieval at recall levels."""

from __future__ import annotations


def text_table(rows: list[list[str]]) -> str:
    """Rows of cells (the first row the header) as aligned text: the first column to the left,
    the others to the right, a rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def comparison_table(metrics: dict[str, dict]) -> str:
    """A plain-text table of the metrics of several models."""
    cols = [
        ("model", None),
        ("code", "n_components"),
        ("train error", "train_error"),
        ("test error", "test_error"),
        ("5-NN acc.", "knn_accuracy"),
        ("epochs", "n_epochs"),
        ("seconds", "training_seconds"),
    ]
    cols = [(h, k) for h, k in cols if k is None or any(k in m for m in metrics.values())]
    rows = [[h for h, _ in cols]]
    for name, m in metrics.items():
        rows.append([name] + [_fmt(m.get(k)) for _, k in cols[1:]])
    return text_table(rows)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def retrieval_table(results: dict) -> str:
    """Precision at 1, 10 and 100, mAP, speed and memory, one row per index."""
    head = ["index (space)", "dim", "P@1", "P@10", "P@100", "mAP", "queries/s", "median ms", "p95 ms", "MB"]
    rows = [head]
    for name, r in results.items():
        p = r["precision_at"]
        rows.append(
            [
                name,
                str(r["dimension"]),
                *(f"{p[k]:.4f}" if k in p else "-" for k in (1, 10, 100)),
                f"{r['map']:.4f}",
                f"{r['queries_per_s']:.0f}",
                f"{r['latency_ms']['median']:.3f}",
                f"{r['latency_ms']['p95']:.3f}",
                f"{r['memory_mb']:.2f}",
            ]
        )
    return text_table(rows)


def text_retrieval_table(metrics: dict) -> str:
    """Precision at the recall levels of the figures, at 10 documents, and mAP, one row per model."""
    recall_levels = list(next(iter(metrics.values()))["precision_at_recall"])
    head = ["model", "dim", *(f"R={100 * r:g}%" for r in recall_levels), "P@10", "mAP"]
    rows = [head]
    for name, r in metrics.items():
        rows.append(
            [
                name,
                str(r["dimension"]),
                *(f"{r['precision_at_recall'][level]:.4f}" for level in recall_levels),
                f"{r['precision_at'][10]:.4f}",
                f"{r['map']:.4f}",
            ]
        )
    return "precision at recall R (and at 10 documents):\n" + text_table(rows)
