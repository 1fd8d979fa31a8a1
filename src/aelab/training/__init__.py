"""Training: the loop (plain PyTorch over arrays, no estimators), checkpoints, greedy pre-training."""

from .checkpoints import checkpoint_path, has_checkpoint
from .loop import BatchLoss, TrainConfig, TrainingError, TrainResult, apply_in_batches, evaluate_loss, fit_module
from .pretrain import greedy_layerwise, load_stack

__all__ = [
    "BatchLoss",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "apply_in_batches",
    "checkpoint_path",
    "evaluate_loss",
    "fit_module",
    "greedy_layerwise",
    "has_checkpoint",
    "load_stack",
]
