"""The shape of every JSON file that aelab reads back from a folder (a model, an index, a document
search, a checkpoint), as JSON Schemas checked by the ``jsonschema`` package.

Such a folder is data that may come from someone else: whatever it says is checked here, in one
place, before anything acts on it (types, ranges, required keys, nesting), and a file that breaks
its schema is one line, "FOLDER is damaged: ...". Checks across files (a weight's shape against
the config, a checksum against a file) follow in the loaders.
"""

from __future__ import annotations

from typing import Any

from .errors import ModelError
from .params import (
    ACTIVATIONS,
    ANOMALY_KINDS,
    DOCUMENT_KINDS,
    INDEX_KINDS,
    LOSSES,
    METRICS,
    NORMALIZATIONS,
    OUTPUT_ACTIVATIONS,
    SPACES,
    TOKEN_PATTERNS,
    WEIGHTINGS,
)

MAX_SIDE = 1 << 16  # pixels a side of an image shape
MAX_FEATURES = 1 << 31

_int = {"type": "integer"}
_count = {"type": "integer", "minimum": 0}
_positive = {"type": "integer", "minimum": 1}
_number = {"type": "number"}
_text = {"type": "string", "maxLength": 4096}
_label = {"type": ["string", "number", "boolean", "null"]}
_digests = {"type": "object", "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}
_image_shape = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "array",
            "minItems": 2,
            "maxItems": 3,
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE},
        },
    ]
}
_history = {"type": "array", "items": {"type": "object", "additionalProperties": {"type": ["number", "null"]}}}


def _tagged(fmt: str, required: list[str], properties: dict) -> dict:
    return {
        "type": "object",
        "required": ["format", "format_version", *required],
        "properties": {"format": {"const": fmt}, "format_version": _positive, "files": _digests, **properties},
    }


_sizes = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": MAX_FEATURES}}

VECTORIZER = {
    "type": "object",
    "required": ["weighting", "max_features", "stop_words", "vocabulary", "idf"],
    "additionalProperties": False,
    "properties": {
        "weighting": {"enum": list(WEIGHTINGS)},
        "max_features": _positive,
        "stop_words": {"enum": ["english", None]},
        "min_df": _positive,
        "token_pattern": {"enum": list(TOKEN_PATTERNS)},  # a pattern from elsewhere could take forever to match
        "vocabulary": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1, "maxLength": 1000}},
        "idf": {"type": "array", "items": _number},
    },
}

_kind_numbers = {"type": "object", "additionalProperties": _number, "maxProperties": 3}
ANOMALY_REFERENCE = {
    "type": "object",
    "required": ["kinds", "centre", "spread", "quantiles"],
    "additionalProperties": False,
    "properties": {
        "kinds": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": [k for k in ANOMALY_KINDS if k != "auto"]},
        },
        "centre": _kind_numbers,
        "spread": {"type": "object", "additionalProperties": {"type": "number", "exclusiveMinimum": 0}},
        "quantiles": {"type": "array", "minItems": 2, "maxItems": 100_001, "items": _number},
        "measured_on": {"enum": ["training", "held_out"]},  # older models: training
        "measured_rows": {"type": "integer", "minimum": 1},
    },
}

#: Every value a model's config may hold about what was fitted (no other key is taken: each one is
#: set on the model that is loaded).
MODEL_CONFIG = _tagged(
    "aelab-model",
    ["class", "params", "fitted"],
    {
        "class": {"type": "string", "maxLength": 100},
        "params": {"type": "object"},
        "fitted": {
            "type": "object",
            "required": ["n_features_in_"],
            "additionalProperties": False,
            "properties": {
                "n_features_in_": {"type": "integer", "minimum": 1, "maximum": MAX_FEATURES},
                "image_shape_": _image_shape,
                "pixels_": {"type": "boolean"},
                # auto-encoders
                "n_components_": _positive,
                "output_activation_": {"enum": [a for a in OUTPUT_ACTIVATIONS if a != "auto"]},
                "loss_": {"enum": list(LOSSES)},
                "history_": _history,
                "best_epoch_": {"type": ["integer", "null"], "minimum": 1},
                "n_epochs_": _count,
                "stopped_early_": {"type": "boolean"},
                "training_seconds_": {"type": "number", "minimum": 0},
                "epochs_": _positive,
                "batch_size_": _positive,
                "steps_per_epoch_": _positive,
                "hidden_layer_sizes_": _sizes,
                "terms_": {"type": "object"},
                "code_sample_labels_": {"type": ["array", "null"], "items": _label},
                # PCA, ITQ
                "noise_variance_": _number,
                "n_samples_": _positive,
                "pca": {"type": "object"},
                "quantization_loss_": {"type": "array", "items": _number},
                # the classifier
                "classes_": {"type": "array", "minItems": 2, "items": _label},
                "hidden_sizes_": _sizes,
                "activation_": {"enum": list(ACTIVATIONS)},
                "normalization_": {"enum": list(NORMALIZATIONS)},
                "init_model": {"type": "object"},
                # every code model: the reference of its anomaly scores
                "anomaly_reference_": ANOMALY_REFERENCE,
                # the document model
                "weighting_": {"enum": list(WEIGHTINGS)},
                "vectorizer": VECTORIZER,
                "code_model": {"type": "object"},
            },
        },
    },
)

INDEX_META = _tagged(
    "aelab-index",
    ["metric", "kind", "space", "count", "dimension"],
    {
        "metric": {"enum": list(METRICS)},
        "kind": {"enum": list(INDEX_KINDS)},
        "built_as": {"enum": [kind for kind in INDEX_KINDS if kind != "auto"]},
        "space": {"enum": list(SPACES)},
        "count": _count,
        "dimension": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_FEATURES},
        "params": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "hnsw_neighbours": {"type": "integer", "minimum": 2, "maximum": 1024},
                "ef_search": {"type": "integer", "minimum": 1, "maximum": 1 << 20},
                "ivf_lists": {"type": ["integer", "null"], "minimum": 1, "maximum": 1 << 24},
                "n_probe": {"type": ["integer", "null"], "minimum": 1, "maximum": 1 << 24},
                "pq_groups": {"type": ["integer", "null"], "minimum": 1, "maximum": 4096},
                "rerank": {"type": "integer", "minimum": 1, "maximum": 1 << 16},
            },
        },
        "labelled": {"type": "boolean"},
        "engine": {  # an index whose vectors live in Milvus: where (never a path outside the folder)
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "collection", "physical"],
            "properties": {
                "kind": {"const": "milvus"},
                "uri": {
                    "oneOf": [
                        {"type": "null"},
                        {"type": "string", "pattern": r"^http://[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$"},
                    ]
                },
                "lite": {
                    "oneOf": [
                        {"type": "null"},
                        {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}\.db$"},
                    ]
                },
                "collection": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,200}$"},
                "physical": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,220}$"},
            },
        },
        "info": {
            "type": "object",
            "properties": {  # how the collection was read: split settings, for drawing its items again
                "split": {"enum": ["train", "test", "all"]},
                "test_size": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                "split_seed": _count,
                "label_column": {"type": ["string", "integer", "null"]},
                "image_size": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "array",
                            "minItems": 2,
                            "maxItems": 2,
                            "items": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE - 1},
                        },
                    ]
                },
                "image_shape": _image_shape,
            },
        },
    },
)

INDEX_ITEMS = {
    "type": "object",
    "required": ["ids", "paths", "labels"],
    "properties": {
        "ids": {"type": "array", "items": _text},
        "paths": {"type": "array", "items": {"type": ["string", "null"]}},
        "labels": {"type": ["array", "null"], "items": _label},
    },
}

DOCUMENT_SEARCH = _tagged(
    "aelab-text",
    ["models"],
    {
        "models": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(DOCUMENT_KINDS)}},
        "code_size": _positive,
        "count": _count,
        "info": {"type": "object"},
    },
)

DOCUMENTS = {
    "type": "object",
    "required": ["first_lines"],
    "properties": {"first_lines": {"type": "array", "items": {"type": "string"}}},
}

CHECKPOINT = {
    "type": "object",
    "required": ["run", "state", "files"],
    "properties": {
        "run": {"type": "object"},
        "files": {"type": "string", "pattern": "^epoch-[0-9]{5}$"},
        "digests": _digests,
        "state": {
            "type": "object",
            "required": ["epoch", "history", "best_val", "best_epoch", "bad_epochs"],
            "properties": {
                "epoch": _count,
                "history": _history,
                "best_val": {"type": ["number", "null"]},
                "best_epoch": {"type": ["integer", "null"], "minimum": 1},
                "bad_epochs": _count,
                "best_lr": _number,  # older checkpoints: none (every worse epoch counted)
                "stopped_early": {"type": "boolean"},
            },
        },
    },
}


def check(obj: Any, schema: dict, where: str) -> Any:
    """``obj`` (read from the file ``where``) if it fits ``schema``; else one-line ModelError."""
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(obj))
    if error is not None:
        at = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        raise ModelError(f"{where} is damaged: {at + ': ' if at else ''}{message}")
    return obj
