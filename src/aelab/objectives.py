"""The objective of an auto-encoder: a reconstruction loss plus regularizer terms that combine freely.

Reconstruction losses are per sample, summed over features, averaged over the batch: on the scale
of the reported reconstruction error (squared error per image), so that the weights of the terms
mean the same thing whatever the input size.

A plain auto-encoder minimises the reconstruction loss. Each variant adds one thing:

- denoising: the encoder sees a corrupted input, the loss compares with the clean one;
- sparse: an L1 penalty on the code, or a KL penalty pulling each code unit's activation rate
  (its sigmoid, averaged over the batch) towards a small target rate;
- contractive: the squared Frobenius norm of the encoder's Jacobian, estimated from one
  vector-Jacobian product with a random sign vector (Hutchinson's estimator: unbiased for any
  depth, one extra backward pass rather than one per code unit);
- code L2: the squared norm of the code, so that codes gather near zero;
- neighbour keeping: parametric UMAP's loss (Sainburg, McInnes & Gentner 2021): each sample and
  one of its nearest neighbours in the inputs (drawn from the fuzzy k-nearest-neighbour graph
  that training feeds, :mod:`aelab.training.neighbours`) are pulled together in the code space, the
  other samples of the batch pushed apart, as UMAP lays out its embedding (a binary code's
  logits, whose signs are its bits, or its bits' probabilities, which count only whether the bits
  agree);
- distance keeping: the batch's pairwise distances of the inputs kept in the codes;
- variational: a Gaussian encoder (mean and log-variance), a code sampled with the
  reparameterization trick (by the net itself, in ``forward``), and the KL divergence to N(0, I)
  weighted by beta (warmed up linearly over the first epochs when asked).

Weights are per sample, on the scale of the reconstruction loss. The parameters that switch the
terms on are declared in :mod:`aelab.params` (``REGULARIZATION``).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as collectives
import torch.nn.functional as F

from .errors import ParameterError
from .params import (
    AUTO_BINARY_DENOISE,
    AUTO_KEEP_DISTANCES,
    AUTO_KEEP_NEIGHBOURS,
    BIT_DISTANCE_BITS,
    CORRUPTIONS,
    LOSSES,
    REGULARIZATION,
    SPARSITIES,
    TABLE,
)


# --- reconstruction losses -------------------------------------------------------------------------
def reconstruction_loss(name: str, logits: torch.Tensor, target: torch.Tensor, output_activation: str) -> torch.Tensor:
    """Loss of the decoder's pre-activation output ``logits`` against ``target``.

    ``bce`` (binary cross-entropy) needs a sigmoid output and targets in [0, 1]; it is computed from
    the logits for numerical stability. ``mse`` is the squared error of the activated output.
    ``multinomial`` (for word counts) is the cross-entropy of a softmax output against each row's
    own distribution, the row divided by its sum (an all-zero row costs nothing).
    """
    if name == "bce":
        return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1).mean()
    if name == "multinomial":
        target = target / target.sum(1, keepdim=True).clamp_min(1e-12)
        return -(target * F.log_softmax(logits.float(), 1)).sum(1).mean()
    if name == "mse":
        return (apply_output(logits, output_activation) - target).square().sum(1).mean()
    raise ParameterError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")


def reconstruction_divergence(
    name: str, logits: torch.Tensor, target: torch.Tensor, output_activation: str
) -> torch.Tensor:
    """Per sample and feature, what :func:`reconstruction_loss` charges above its floor (the loss of
    a perfect reconstruction): the squared error; for ``bce`` each pixel's Bernoulli divergence;
    for ``multinomial`` each word's term of the divergence of the decoded distribution from the
    row's. An anomaly score, that the target's own entropy (ink, length) does not inflate."""
    if name == "bce":
        entropy = -(torch.special.xlogy(target, target) + torch.special.xlogy(1 - target, 1 - target))
        return (F.binary_cross_entropy_with_logits(logits, target, reduction="none") - entropy).clamp_min(0)
    if name == "multinomial":
        target = target / target.sum(1, keepdim=True).clamp_min(1e-12)
        return torch.special.xlogy(target, target) - target * F.log_softmax(logits.float(), 1)
    if name == "mse":
        return (apply_output(logits, output_activation) - target).square()
    raise ParameterError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")


BLUR_SIGMA = 1.0  # pixels: the Gaussian by which blurred_divergence blurs both images
BLURRED_LOSSES = ("bce", "mse")  # the pixel-wise losses whose divergence still means something blurred


def blurred_divergence(
    name: str,
    logits: torch.Tensor,
    target: torch.Tensor,
    output_activation: str,
    image_shape,
    sigma: float = BLUR_SIGMA,
) -> torch.Tensor:
    """Per sample, what :func:`reconstruction_divergence` charges once the image and its
    reconstruction are both blurred by a Gaussian of ``sigma`` pixels (rows of ``image_shape``:
    height, width[, channels]). Pixel by pixel, a stroke rebuilt a pixel away costs more than a
    part left out; blurred, it costs little, and what is missing or added still costs. ``bce``:
    the Bernoulli divergence of the blurred pixels; ``mse``: their squared error."""
    if name not in BLURRED_LOSSES:
        raise ParameterError(f"the blurred divergence compares images rebuilt with bce or mse, not {name!r}")
    rebuilt = gaussian_blur(apply_output(logits, output_activation), image_shape, sigma)
    target = gaussian_blur(target, image_shape, sigma)
    if name == "bce":
        # a blurred patch of ones comes out a rounding error above 1, where a pixel's entropy is
        # undefined (NaN); then back to logits, for the one home of the Bernoulli divergence
        target = target.clamp(0.0, 1.0)
        return reconstruction_divergence(name, torch.logit(rebuilt.clamp(1e-7, 1 - 1e-7)), target, "sigmoid").sum(1)
    return reconstruction_divergence(name, rebuilt, target, "identity").sum(1)


def gaussian_blur(rows: torch.Tensor, image_shape, sigma: float) -> torch.Tensor:
    """Rows of flattened images (height, width[, channels], channels last) blurred channel by
    channel by a Gaussian of ``sigma`` pixels, cut at 4 sigma, zeros beyond the edges."""
    height, width, channels = (*image_shape, 1)[:3]
    radius = max(1, int(4 * sigma + 0.5))
    offsets = torch.arange(-radius, radius + 1, dtype=rows.dtype, device=rows.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    images = rows.reshape(-1, height, width, channels).permute(0, 3, 1, 2)
    across = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    down = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    images = F.conv2d(images, across, padding=(0, radius), groups=channels)
    images = F.conv2d(images, down, padding=(radius, 0), groups=channels)
    return images.permute(0, 2, 3, 1).reshape(rows.shape)


def apply_output(logits: torch.Tensor, output_activation: str) -> torch.Tensor:
    if output_activation == "softmax":
        return torch.softmax(logits, 1)
    return torch.sigmoid(logits) if output_activation == "sigmoid" else logits


# --- regularizer terms -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Corruption:
    """Input noise of a denoising auto-encoder: ``gaussian`` (additive, ``level`` = sigma in input
    units), ``mask`` (a ``level`` share of features set to zero) or ``salt_pepper`` (a ``level``
    share set to the batch's minimum or maximum, half each)."""

    kind: str
    level: float

    @classmethod
    def parse(cls, spec: str | None) -> Corruption | None:
        """``"gaussian:0.3"``, ``"mask:0.25"``, ``"salt_pepper:0.1"``, or None for no noise."""
        if spec in (None, "", "none"):
            return None
        kind, _, level = str(spec).partition(":")
        kind = kind.replace("-", "_")
        if kind not in CORRUPTIONS:
            raise ParameterError(f"denoise must be KIND:LEVEL with KIND one of {', '.join(CORRUPTIONS)}, not {spec!r}")
        value = _number(level, f"denoise {spec!r}", "gaussian:0.3")
        if value <= 0 or (kind != "gaussian" and value >= 1):
            raise ParameterError(f"the noise level of denoise {spec!r} must be positive (and below 1 for {kind})")
        return cls(kind, value)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "gaussian":
            return x + self.level * torch.randn_like(x)
        hit = torch.rand_like(x) < self.level
        if self.kind == "mask":
            return x.masked_fill(hit, 0.0)
        salt = torch.rand_like(x) < 0.5
        return torch.where(hit, torch.where(salt, x.max(), x.min()), x)

    def __str__(self) -> str:
        return f"{self.kind}:{self.level:g}"


@dataclass(frozen=True)
class Sparsity:
    """``l1``: weight times the code's L1 norm. ``kl``: weight times the sum over code units of
    KL(rate || mean sigmoid activation of the unit over the batch)."""

    kind: str
    weight: float
    rate: float = 0.05

    @classmethod
    def parse(cls, spec: str | None) -> Sparsity | None:
        """``"l1:WEIGHT"`` or ``"kl:WEIGHT[:RATE]"`` (rate 0.05 by default), or None."""
        if spec in (None, "", "none"):
            return None
        kind, _, rest = str(spec).partition(":")
        if kind not in SPARSITIES or not rest:
            raise ParameterError(f"sparse must be l1:WEIGHT or kl:WEIGHT[:RATE], not {spec!r}")
        parts = rest.split(":")
        if len(parts) > (2 if kind == "kl" else 1):
            raise ParameterError(f"sparse must be l1:WEIGHT or kl:WEIGHT[:RATE], not {spec!r}")
        weight = _number(parts[0], f"sparse {spec!r}", "l1:1e-4")
        rate = _number(parts[1], f"sparse {spec!r}", "kl:0.1:0.05") if len(parts) > 1 else 0.05
        if weight < 0 or not 0 < rate < 1:
            raise ParameterError(f"sparse {spec!r}: the weight must be >= 0 and the rate in (0, 1)")
        return cls(kind, weight, rate)

    def __call__(self, code: torch.Tensor) -> torch.Tensor:
        if self.kind == "l1":
            return self.weight * code.abs().sum(1).mean()
        rho_hat = torch.sigmoid(code.float()).mean(0).clamp(1e-6, 1 - 1e-6)
        rho = self.rate
        kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
        return self.weight * kl.sum()

    def __str__(self) -> str:
        return f"l1:{self.weight:g}" if self.kind == "l1" else f"kl:{self.weight:g}:{self.rate:g}"


def contractive_penalty(
    code: torch.Tensor, x: torch.Tensor, exact: bool = False, create_graph: bool = True
) -> torch.Tensor:
    """Mean over the batch of ||d code / d x||_F^2, for ``code`` computed from ``x`` (which must
    require grad).

    By default an unbiased estimate from one random sign vector u per sample: E ||u^T J||^2 =
    trace(J J^T) = ||J||_F^2. That costs one extra backward pass (twice, for the gradient)
    whatever the code size. ``exact=True`` sums one backward pass per code unit (for tests).
    ``create_graph`` keeps the graph for training through the penalty.
    """
    create = create_graph
    code = code.reshape(len(code), -1)
    if exact:
        total = x.new_zeros(())
        for j in range(code.shape[1]):
            (g,) = torch.autograd.grad(code[:, j].sum(), x, create_graph=create, retain_graph=True)
            total = total + g.float().square().sum()
        return total / len(x)
    u = torch.randint(0, 2, code.shape, device=code.device, dtype=code.dtype) * 2 - 1
    (g,) = torch.autograd.grad((code * u).sum(), x, create_graph=create)
    return g.float().square().reshape(len(x), -1).sum(1).mean()


def batch_of_all_ranks(rows: torch.Tensor) -> torch.Tensor:
    """Every rank's ``rows`` (its share of a global batch) stacked in rank order, on every rank of a
    torchrun run, with gradients that flow back to the rank whose rows they are: a loss over pairs
    of rows sees the pairs of the whole batch, as one process does. Each rank passes as many rows."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return rows
    return collectives.wait_tensor(collectives.all_gather_single_autograd(rows.contiguous(), 0, dist.group.WORLD))


def distance_keeping(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the batch's pairwise distances of the inputs and of the
    codes, each divided by its mean (so that neither scale matters): codes whose far items stay
    far, as PCA's do, rank a whole collection better than codes that keep only near neighbours.
    In a training step of several ranks the pairs are those of the whole global batch, so that the
    ranks train what one process trains; validation (no gradient, uneven shares) compares each
    rank's own pairs."""
    x, code = x.float().flatten(1), code.float()
    if torch.is_grad_enabled() and code.requires_grad:
        x, code = batch_of_all_ranks(x), batch_of_all_ranks(code)
    dx = torch.cdist(x, x)
    dz = torch.cdist(code, code)
    return (dz / dz.mean().clamp_min(1e-12) - dx / dx.mean().clamp_min(1e-12)).square().mean()


#: UMAP's curve of similarity over distance, ``1 / (1 + a d^(2b))``, for its default min_dist of 0.1
UMAP_A, UMAP_B = 1.577, 0.8951
NEGATIVES = 5  # other samples of the batch pushed away from each sample, per neighbour pulled near


def neighbour_keeping(code: torch.Tensor, partner: torch.Tensor, negatives: int = NEGATIVES) -> torch.Tensor:
    """Parametric UMAP's cross-entropy for a batch of codes and the codes of one input neighbour of
    each (``partner``): -log q of each pair, and -log(1 - q) of each code with ``negatives`` codes
    of the batch drawn at random (torch's generator), where q = 1 / (1 + a d^(2b)) is UMAP's
    similarity of codes at distance d. Averaged over the batch."""
    code, partner = code.float(), partner.float()

    def similarity(a, b):
        return 1.0 / (1.0 + UMAP_A * (a - b).square().sum(-1).clamp_min(1e-10).pow(UMAP_B))

    near = similarity(code, partner)
    others = torch.randint(0, len(code), (len(code), negatives), device=code.device)
    far = similarity(code[:, None, :], partner[others])
    return -(near.clamp_min(1e-4).log().mean() + (1 - far).clamp_min(1e-4).log().sum(1).mean())


def bit_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """A binary code's bits' probabilities, scaled so that their squared distances are on the scale
    of a :data:`~aelab.params.BIT_DISTANCE_BITS`-bit code's, whatever the code's length."""
    return torch.sigmoid(logits.float()) * math.sqrt(BIT_DISTANCE_BITS / logits.shape[-1])


def gaussian_kl(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)), summed over code units, averaged over the batch."""
    mean, logvar = mean.float(), logvar.float()
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(1).mean()


@dataclass(frozen=True)
class Regularization:
    """All terms of one auto-encoder's objective; the neutral values switch a term off."""

    denoise: Corruption | None = None
    sparse: Sparsity | None = None
    contractive: float = 0.0
    code_l2: float = 0.0
    keep_distances: float = 0.0
    keep_neighbours: float = 0.0
    n_neighbours: int | str = "auto"  # resolved for the training samples by the estimator
    variational: bool = False
    beta: float = 1.0
    beta_warmup: int = 0
    binary: bool = False
    binary_neighbours: str = "logits"

    @classmethod
    def from_params(cls, n_features: int | None = None, **params) -> Regularization:
        """The terms an estimator's parameters switch on: ``params`` are the ``REGULARIZATION``
        names of :mod:`aelab.params` (missing ones take their defaults), checked against its table;
        ``n_features`` (the inputs', when known) sets what ``keep_neighbours="auto"`` weighs."""
        unknown = set(params) - set(REGULARIZATION)
        if unknown:
            raise ParameterError(f"not a regularization parameter: {', '.join(sorted(unknown))}")
        values = {name: params.get(name, TABLE[name].default) for name in REGULARIZATION}
        for name, value in values.items():
            TABLE[name].check(value)
        if values["binary"] and values["variational"]:
            raise ParameterError("a code is binary or variational, not both")
        plain = not (values["binary"] or values["variational"])
        if values["keep_distances"] == "auto":
            values["keep_distances"] = AUTO_KEEP_DISTANCES if plain else 0.0
        if values["keep_neighbours"] == "auto":
            values["keep_neighbours"] = 0.0 if values["variational"] else AUTO_KEEP_NEIGHBOURS * (n_features or 1)
        if values["denoise"] == "auto":
            masked = values["binary"] and not float(values["keep_neighbours"])
            values["denoise"] = AUTO_BINARY_DENOISE if masked else None
        return cls(
            Corruption.parse(values["denoise"]),
            Sparsity.parse(values["sparse"]),
            float(values["contractive"]),
            float(values["code_l2"]),
            float(values["keep_distances"]),
            float(values["keep_neighbours"]),
            values["n_neighbours"] if values["n_neighbours"] == "auto" else int(values["n_neighbours"]),
            bool(values["variational"]),
            float(values["beta"]),
            int(values["beta_warmup"]),
            bool(values["binary"]),
            str(values["binary_neighbours"]),
        )

    @property
    def names(self) -> list[str]:
        """The terms that are on, as the training log names them."""
        on = {
            "denoise": self.denoise,
            "sparse": self.sparse,
            "contractive": self.contractive,
            "code_l2": self.code_l2,
            "keep_distances": self.keep_distances,
            "keep_neighbours": self.keep_neighbours,
            "kl": self.variational,
        }
        return [k for k, v in on.items() if v]

    def beta_at(self, epoch: float | torch.Tensor) -> float | torch.Tensor:
        """The KL weight after ``epoch`` epochs: linear from 0 over ``beta_warmup`` epochs (a 0-d
        tensor for a tensor ``epoch``, as a step replayed from a CUDA graph passes it)."""
        if self.beta_warmup <= 0:
            return self.beta
        if torch.is_tensor(epoch):  # no branch on the value, so nothing waits for the device
            ramp = (self.beta * epoch / self.beta_warmup).clamp(max=self.beta)
            return ramp.float()  # float32, as a plain number multiplies a float32 term
        return self.beta if epoch >= self.beta_warmup else self.beta * epoch / self.beta_warmup

    def describe(self) -> dict:
        """The terms that are on, as plain values (saved in the model's config.json)."""
        out = {k: str(getattr(self, k)) for k in ("denoise", "sparse") if getattr(self, k)}
        out.update({k: getattr(self, k) for k in ("contractive", "code_l2", "keep_distances") if getattr(self, k)})
        if self.keep_neighbours:
            out.update(keep_neighbours=self.keep_neighbours, n_neighbours=self.n_neighbours)
        if self.variational:
            out.update(variational=True, beta=self.beta, beta_warmup=self.beta_warmup)
        if self.binary:
            out.update(binary=True)
            if self.keep_neighbours and self.binary_neighbours != "logits":
                out.update(binary_neighbours=self.binary_neighbours)
        return out


def objective(
    net, x: torch.Tensor, epoch: float, reg: Regularization, reconstruction, partner: torch.Tensor | None = None
) -> tuple[torch.Tensor, dict]:
    """The loss of one batch for an auto-encoder ``net`` and its terms by name; ``partner``: one
    input neighbour of each row (training batches of a neighbour-keeping objective), encoded in the
    same pass.

    The batch goes through ``net(x) -> (stats, logits)`` (its ``forward``, so that wrappers such
    as DistributedDataParallel see every step): ``stats`` is the code, or the code's mean and
    log-variance side by side for a variational net, which decodes a sampled code while training
    and the mean otherwise. ``reconstruction(logits, target)`` is the reconstruction loss.
    Evaluation keeps the corruption (the denoising objective is what validation should measure).
    """
    neighbours = reg.keep_neighbours and partner is not None
    if neighbours:  # the partners go through the net with the batch: one pass, one set of statistics
        x, partner = torch.cat([x, partner]), None
    x_in = reg.denoise(x) if reg.denoise else x
    if reg.contractive:
        x_in = x_in.detach().requires_grad_(True)
    with torch.enable_grad() if reg.contractive else contextlib.nullcontext():
        stats, logits = net(x_in)
        mean, logvar = stats.chunk(2, dim=1) if reg.variational else (stats, None)
        penalty = contractive_penalty(mean, x_in, create_graph=net.training) if reg.contractive else None
    if neighbours:  # the partners' rows count in the contractive penalty above, as rows of the batch
        n = len(x) // 2
        mean, partner, logits, x = mean[:n], mean[n:], logits[:n], x[:n]
        logvar = None if logvar is None else logvar[:n]
    recon = reconstruction(logits, x)
    terms = {"reconstruction": recon}
    loss = recon
    if reg.sparse:
        terms["sparse"] = reg.sparse(mean)
    if reg.contractive:
        terms["contractive"] = reg.contractive * penalty
    if reg.code_l2:
        terms["code_l2"] = reg.code_l2 * mean.float().square().sum(1).mean()
    if reg.keep_distances:
        terms["keep_distances"] = reg.keep_distances * distance_keeping(x, mean)
    if neighbours:
        pair = (mean, partner)
        if reg.binary and reg.binary_neighbours == "probabilities":
            pair = (bit_probabilities(mean), bit_probabilities(partner))
        terms["keep_neighbours"] = reg.keep_neighbours * neighbour_keeping(*pair)
    if reg.variational:
        terms["kl"] = gaussian_kl(mean, logvar)
        loss = loss + reg.beta_at(epoch) * terms["kl"]
    for name in ("sparse", "contractive", "code_l2", "keep_distances", "keep_neighbours"):
        if name in terms:
            loss = loss + terms[name]
    if len(terms) == 1:
        terms = {}
    return loss, terms


def _number(text: str, what: str, example: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(f"{what}: {text!r} is not a number (example: {example})") from None
    if not math.isfinite(value):
        raise ParameterError(f"{what}: the number must be finite")
    return value
