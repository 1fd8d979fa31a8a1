"""A training step whose forward and backward pass is captured once as a CUDA graph and replayed.

A small net's step on a GPU is a few microseconds of arithmetic behind hundreds of kernel launches
from Python; replaying a captured graph launches them all at once. Only the forward and backward
pass is captured: the optimizer's step (fused AdamW, a handful of launches) and the schedule run as
usual after each replay, so the schedule's learning rate and momentum keep changing step by step.

Capture needs fixed addresses and shapes: each batch is copied into the same input tensors, the
epoch's progress (for warm-ups) is a 0-d float64 tensor filled each step, and the gradients are the
tensors the captured backward writes (never set to None between replays). Random draws inside the
step (input noise, sampled codes, the neighbour term's negatives) come from the CUDA generator,
which a captured graph advances at every replay. The first steps run uncaptured (on a side stream,
as capture asks), the same step that is then captured.

Off CUDA the same static step runs uncaptured, every step: it gives the plain step's weights bit
for bit, which is how the CPU tests check everything around the capture.
"""

from __future__ import annotations

import torch

#: uncaptured steps before the capture (lazy initialisations, cuBLAS workspaces, autotuning)
WARMUP_STEPS = 3


class GraphedStep:
    """``step(data, epoch) -> (loss, terms)``: one optimizer step of ``stepper`` (a
    :class:`aelab.training.loop._Stepper`) on a batch, with the forward and backward pass of
    ``batch_loss`` replayed from a CUDA graph once captured (``capture``; off: never captured).
    The returned loss and terms are the step's own tensors, overwritten by the next step: add them
    up before stepping again."""

    def __init__(self, stepper, batch_loss, capture: bool):
        self.stepper, self.batch_loss, self.capture = stepper, batch_loss, capture
        self.inputs: tuple[torch.Tensor, ...] | None = None
        self.epoch: torch.Tensor | None = None
        self.outputs: tuple[torch.Tensor, dict[str, torch.Tensor]] | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.steps = 0

    def __call__(self, data: tuple[torch.Tensor, ...], epoch: float):
        if self.inputs is None:
            self.inputs = tuple(torch.empty_like(t) for t in data)
            self.epoch = torch.zeros((), dtype=torch.float64, device=data[0].device)
        for static, t in zip(self.inputs, data):
            static.copy_(t)
        self.epoch.fill_(epoch)
        if self.graph is not None:
            self.graph.replay()
        elif self.capture and self.steps >= WARMUP_STEPS:
            self._capture()
            self.graph.replay()
        else:
            self.outputs = self._on_side_stream() if self.capture else self._forward_backward()
        self.stepper.optimizer_step()
        self.steps += 1
        return self.outputs

    def _forward_backward(self):
        return self.stepper.forward_backward(self.batch_loss, self.inputs, self.epoch)

    def _on_side_stream(self):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            outputs = self._forward_backward()
        torch.cuda.current_stream().wait_stream(side)
        return outputs

    def _capture(self) -> None:
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):  # the gradients are allocated anew, in the graph's pool
            self.outputs = self._forward_backward()
