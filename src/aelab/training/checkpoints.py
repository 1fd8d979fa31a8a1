"""Checkpoints: the whole training state after every epoch, written so that a run killed at any
moment resumes from its last finished epoch. Tensor state is safetensors + JSON, never pickle."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .. import schemas
from ..errors import ModelError
from ..storage import (
    atomic_path,
    check_digests,
    folder_file,
    load_state,
    read_json,
    record_digests,
    save_json,
    save_state,
)

CHECKPOINT_FILE = "checkpoint.json"


def checkpoint_path(out) -> Path:
    """Where the checkpoint of an unfinished run that writes ``out`` is kept: ``out.checkpoint``."""
    out = Path(out)
    return out.with_name(out.name + ".checkpoint")


def save_checkpoint(
    folder: Path, run_id: dict, module, optimizer, scheduler, shuffle, best_weights, state, extra=None
) -> None:
    """Write the complete training state of this epoch, then point ``checkpoint.json`` at it.

    The pointer is replaced atomically after the state files are whole, so a run killed at any
    moment leaves a checkpoint that is either the previous epoch's or this one's.
    ``extra`` adds more state (every rank's generators, a float16 run's gradient scaler).
    """
    folder.mkdir(parents=True, exist_ok=True)
    tag = f"epoch-{state['epoch']:05d}"
    save_state(
        {
            "module": module.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "shuffle": shuffle.get_state(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            "best_weights": best_weights,
            **(extra or {}),
        },
        folder,
        tag,
    )
    digests = record_digests(folder, [f"{tag}.safetensors", f"{tag}.json"])
    with atomic_path(folder / CHECKPOINT_FILE, overwrite=True) as tmp:
        save_json(tmp, {"run": run_id, "state": state, "files": tag, "digests": digests})
    for old in folder.glob("epoch-*"):
        if not old.name.startswith(tag + "."):
            old.unlink(missing_ok=True)


def load_checkpoint(folder: Path, run_id: dict) -> dict:
    meta = read_json(folder_file(folder, CHECKPOINT_FILE), schemas.CHECKPOINT)
    if _plain(meta.get("run")) != _plain(run_id):
        raise ModelError(
            f"the checkpoint in {folder} was made by a run with other settings or data; resume with the same "
            "command and data, or delete that folder to start over"
        )
    check_digests(folder, meta.get("digests"))
    saved = load_state(folder, meta["files"])
    saved["state"] = meta["state"]
    return saved


def has_checkpoint(folder: Path | None) -> bool:
    return folder is not None and (folder / CHECKPOINT_FILE).exists()


def _plain(obj):
    """Normalise tuples to lists so that settings compare equal after a trip through JSON."""
    return json.loads(json.dumps(obj))
