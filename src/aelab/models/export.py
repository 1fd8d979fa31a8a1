"""A trained auto-encoder as two ONNX graphs, for services that encode or decode without aelab.

``encoder.onnx`` takes rows of features as aelab's loaders give them (float32; pixels in [0, 1])
and gives the codes that ``transform`` gives: the input scaling, a document model's log input and
the code's kind (a variational model's mean, a binary model's 0s and 1s) are inside the graph.
``decoder.onnx`` takes codes and gives what ``inverse_transform`` gives, in the input's units. Both
have a dynamic batch axis. The graphs are made by ``torch.onnx.export`` and checked with
onnxruntime against the torch model before the folder is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import AelabError, require
from ..storage import atomic_path, check_output

ENCODER_FILE, DECODER_FILE, MANIFEST_FILE = "encoder.onnx", "decoder.onnx", "onnx.json"
OPSET = 18
TOLERANCE = 1e-4  # largest difference from the torch model that an export may show on its check


class _Scaled(nn.Module):
    """A part of ``model``'s net with the model's input scaling as buffers (the graph holds them)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.net = model, model.module_
        mean, scale = model.mean_, model.scale_
        self.scaled = mean is not None
        if self.scaled:
            self.register_buffer("mean", torch.as_tensor(np.asarray(mean, np.float32)))
            self.register_buffer("scale", torch.as_tensor(np.asarray(scale, np.float32)))


class _Encoder(_Scaled):
    def forward(self, x):
        if self.scaled:
            x = (x - self.mean) / self.scale
        return self.model._code(self.net.encode(x)[0])


class _Decoder(_Scaled):
    def forward(self, z):
        out = self.model._output(self.net.decode(z, None))
        return out * self.scale + self.mean if self.scaled else out


def export_onnx(model, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``model`` (a fitted :class:`aelab.AutoEncoder` or :class:`aelab.ConvAutoEncoder`) as the
    folder ``path``: ``encoder.onnx``, ``decoder.onnx`` and ``onnx.json`` (input and output names and
    sizes). The folder appears only once both graphs match the torch model to ``TOLERANCE`` in
    onnxruntime."""
    require("onnx", "export")
    require("onnxscript", "export")
    ort = require("onnxruntime", "export")
    if not hasattr(model, "module_") or not hasattr(model, "_code"):
        raise AelabError(
            f"ONNX export takes a trained auto-encoder (AutoEncoder, ConvAutoEncoder), not a {type(model).__name__}"
        )
    check_output(path, overwrite)
    cpu = _on_cpu(model)
    rng = np.random.default_rng(0)
    sample = cpu.code_sample_[:4] if getattr(cpu, "code_sample_", None) is not None else None
    x = rng.random((3, cpu.n_features_in_), dtype=np.float32)
    z = sample if sample is not None and len(sample) else cpu.transform(x)
    graphs = [
        (ENCODER_FILE, _Encoder(cpu), "x", "code", x, cpu.transform),
        (DECODER_FILE, _Decoder(cpu), "code", "reconstruction", np.asarray(z, np.float32), cpu.inverse_transform),
    ]
    manifest = {
        "format": "aelab-onnx",
        "class": type(model).__name__,
        "n_features": int(cpu.n_features_in_),
        "code_size": int(cpu.code_size),
        "image_shape": list(cpu.image_shape_) if cpu.image_shape_ else None,
        "binary": bool(getattr(cpu, "binary", False)),
        "opset": OPSET,
        "graphs": {},
    }
    with atomic_path(path, overwrite) as tmp:
        tmp.mkdir()
        for name, module, input_name, output_name, example, reference in graphs:
            _export(module.eval(), torch.from_numpy(example), tmp / name, input_name, output_name)
            session = ort.InferenceSession(str(tmp / name), providers=["CPUExecutionProvider"])
            got = session.run(None, {input_name: example})[0]
            gap = float(np.abs(got - reference(example)).max())
            if not gap <= TOLERANCE:
                raise AelabError(f"the exported {name} differs from the model by {gap:.3g}; nothing was written")
            manifest["graphs"][name] = {"input": input_name, "output": output_name, "checked_max_difference": gap}
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    return Path(path)


def _on_cpu(model):
    """The model itself when it lives on the CPU, else a copy moved there (export traces on the CPU)."""
    if model.device_.type == "cpu":
        return model
    import copy

    moved = copy.deepcopy(model)
    moved.module_ = moved.module_.cpu()
    return moved


@contextlib.contextmanager
def _quiet():
    """The exporter's notes on its own internals (warnings and log lines) kept off the user's screen."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "onnx_ir", "onnxscript")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


def _export(module: nn.Module, example: torch.Tensor, out: Path, input_name: str, output_name: str) -> None:
    batch = torch.export.Dim("batch")
    with _quiet(), torch.no_grad():
        torch.onnx.export(
            module,
            (example,),
            str(out),
            input_names=[input_name],
            output_names=[output_name],
            dynamic_shapes=({0: batch},),
            opset_version=OPSET,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
