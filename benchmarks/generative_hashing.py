"""VDSH and NASH, the generative document-hashing models of the deep semantic hashing papers, as
same-run references for hashing.py's 20 Newsgroups table.

Neither paper ships a package, so both are written here from their descriptions, on the words the
benchmark gives every model (its 2,000-word vocabulary), each document seen as the set of its words:

- VDSH (Chaidaroon & Fang, SIGIR 2017): a variational auto-encoder. An MLP encoder gives a Gaussian
  code; a linear softmax decoder scores the document's words; the KL term's weight rises from 0 to
  1 over the first 5,000 steps; the bits are the code means thresholded at their training medians.
- NASH (Shen et al., ACL 2018): the code is Bernoulli. Bits are sampled from the encoder's
  probabilities and the gradient passes straight through the sampling to the same kind of decoder;
  the KL term pulls toward fair coins; the bits are the probabilities rounded. (The paper's variant
  with data-dependent noise added to the sampled bits scored no better here: 0.3787 against 0.3850
  at 32 bits.)

The training settings come from trials at 32 bits (the README's "Binary codes" lists them).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HIDDEN = 500
DROPOUT = 0.1
KL_WARMUP_STEPS = 5_000  # VDSH's annealing of the KL term
RECIPES = {"vdsh": {"epochs": 40, "lr": 3e-3, "batch": 32}, "nash": {"epochs": 80, "lr": 1e-3, "batch": 100}}


class GenerativeHash(nn.Module):
    """Encoder MLP to a Gaussian (``vdsh``) or Bernoulli (``nash``) code of ``bits``, and a linear
    softmax decoder over the vocabulary."""

    def __init__(self, n_words: int, bits: int, kind: str):
        super().__init__()
        self.kind = kind
        self.encoder = nn.Sequential(
            nn.Linear(n_words, HIDDEN), nn.ReLU(), nn.Dropout(DROPOUT),
            nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Dropout(DROPOUT),
        )  # fmt: skip
        self.head = nn.Linear(HIDDEN, 2 * bits if kind == "vdsh" else bits)
        self.decoder = nn.Linear(bits, n_words)

    def code(self, words: torch.Tensor) -> torch.Tensor:
        """The Gaussian means (VDSH) or the bits' probabilities (NASH)."""
        out = self.head(self.encoder(words))
        return out.chunk(2, 1)[0] if self.kind == "vdsh" else torch.sigmoid(out)

    def loss(self, words: torch.Tensor, kl_weight: float) -> torch.Tensor:
        out = self.head(self.encoder(words))
        if self.kind == "vdsh":
            mean, logvar = out.chunk(2, 1)
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
            kl = -0.5 * (1 + logvar - mean.square() - logvar.exp()).sum(1)
        else:
            p = torch.sigmoid(out)
            z = p + (torch.bernoulli(p) - p).detach()  # straight through the sampling
            q = p.clamp(1e-6, 1 - 1e-6)
            kl = (q * torch.log(2 * q) + (1 - q) * torch.log(2 * (1 - q))).sum(1)
        nll = -(words * F.log_softmax(self.decoder(z), 1)).sum(1)
        return (nll + kl_weight * kl).mean()


def _presence(X: np.ndarray) -> torch.Tensor:
    """Each document as the set of its words: 1 where a word occurs, 0 elsewhere."""
    return torch.from_numpy((X > 0).astype(np.float32))


def hash_documents(kind: str, X_train: np.ndarray, X_test: np.ndarray, bits: int, seed: int):
    """Train ``kind`` ("vdsh" or "nash") on the training documents' word vectors; their bits and the
    test documents' (0s and 1s, ``uint8``)."""
    recipe = RECIPES[kind]
    torch.manual_seed(seed)
    words = _presence(X_train)
    model = GenerativeHash(words.shape[1], bits, kind)
    optimizer = torch.optim.Adam(model.parameters(), recipe["lr"])
    order = torch.Generator().manual_seed(seed)
    step = 0
    model.train()
    for _ in range(recipe["epochs"]):
        for rows in torch.randperm(len(words), generator=order).split(recipe["batch"]):
            kl_weight = min(1.0, step / KL_WARMUP_STEPS) if kind == "vdsh" else 1.0
            loss = model.loss(words[rows], kl_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    model.eval()
    with torch.no_grad():
        train, test = model.code(words).numpy(), model.code(_presence(X_test)).numpy()
    threshold = np.median(train, 0) if kind == "vdsh" else 0.5
    return (train > threshold).astype(np.uint8), (test > threshold).astype(np.uint8)
