"""Reports: figures, plain-text tables, and comparisons of models beside PCA with an HTML page."""

from .comparison import account, evaluate_model, model_metrics, pca_twin, twin_note, write_figures, write_html
from .figures import (
    anomaly_curves_figure,
    code_map,
    confusion_matrix_figure,
    generated_figure,
    image_strip,
    mosaic,
    precision_recall_figure,
    reconstruction_figure,
    save_figure,
    training_curves,
    unusual_items_figure,
)
from .tables import comparison_table, retrieval_table, text_retrieval_table, text_table

__all__ = [
    "account",
    "anomaly_curves_figure",
    "code_map",
    "comparison_table",
    "confusion_matrix_figure",
    "evaluate_model",
    "generated_figure",
    "image_strip",
    "model_metrics",
    "mosaic",
    "pca_twin",
    "precision_recall_figure",
    "reconstruction_figure",
    "retrieval_table",
    "save_figure",
    "text_retrieval_table",
    "text_table",
    "training_curves",
    "twin_note",
    "unusual_items_figure",
    "write_figures",
    "write_html",
]
