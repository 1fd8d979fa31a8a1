"""Generating from the code space: the decoder alone is a generator.

Three ways to pick codes, each decoded by the model's ``inverse_transform``:

- :func:`grid`: an evenly spaced N x N grid over a box of a 2-D code space (or over two chosen
  dimensions of a larger code, the others held at the training codes' mean). The box is
  ``"auto"`` (the 1st to 99th percentiles of the training codes: where the codes are),
  ``"zero"`` (centred on zero, two root-mean-square code spreads wide each way: for models whose
  codes were pulled to zero by a code-L2 penalty or a variational prior), or given.
- :func:`sample`: codes drawn from a density fitted to the training codes after training
  (``"gaussian"``, or ``"gmm"``: a 10-component Gaussian mixture, as in the regularized
  auto-encoders of Ghosh et al. 2020), or from the prior N(0, I) of a variational model.
- :func:`interpolate`: the straight line between the codes of two inputs.

Where there were no training codes the decoder has learnt nothing: a plain auto-encoder's grid
breaks down away from its codes, as the lecture shows. The training codes come from the model
itself (``code_sample_``: codes of up to 10,000 training samples, kept when it was trained) or
are given.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import limits
from ..errors import DataError
from ..models.density import fit_density
from ..params import BOXES, DENSITIES
from ..validation import check_choices


def training_codes(model, codes=None, labels=None):
    """The training codes to place a grid or fit a density (``codes`` if given, else the sample
    the model kept), with their labels or None."""
    if codes is not None:
        return np.asarray(codes, dtype=np.float32), None if labels is None else np.asarray(labels)
    kept = getattr(model, "code_sample_", None)
    if kept is None:
        raise DataError(
            "this model kept no training codes (it is not a trained auto-encoder, or was saved by an "
            "older aelab): give the training data (--data) to encode"
        )
    kept_labels = getattr(model, "code_sample_labels_", None)
    return kept, None if kept_labels is None else np.asarray(kept_labels)


def parse_box(text: str):
    """``"auto"``, ``"zero"`` or ``"x0,x1,y0,y1"``."""
    if text in BOXES:
        return text
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not (box[0] < box[1] and box[2] < box[3]):
        raise DataError(f"box must be auto, zero or x0,x1,y0,y1 with x0 < x1 and y0 < y1, not {text!r}")
    return box


def code_box(codes: np.ndarray, box="auto", dims=(0, 1)) -> tuple[float, float, float, float]:
    """The ``(x0, x1, y0, y1)`` box of a grid over code dimensions ``dims``."""
    if not isinstance(box, str):
        return tuple(float(v) for v in box)
    check_choices(("box", box, BOXES))
    Z = codes[:, list(dims)]
    if box == "auto":
        lo, hi = np.percentile(Z, 1, axis=0), np.percentile(Z, 99, axis=0)
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])
    half = 2.0 * np.sqrt(np.mean(np.square(Z), axis=0))
    return -float(half[0]), float(half[0]), -float(half[1]), float(half[1])


def grid(model, n: int = 20, box="auto", dims=None, codes=None):
    """Decode an ``n`` x ``n`` grid of codes, rows from the top (greatest second coordinate) down.

    Returns ``(images, grid_codes, box)``: decoded samples (n*n, features), their codes and the box.
    """
    if int(n) < 2:
        raise DataError(f"a grid needs at least 2 points a side, not {n}")
    limits.check("images", int(n) ** 2, f"a grid of {n} x {n} (--grid {n}) asks for {int(n) ** 2:,} images")
    size = model.code_size
    if dims is None:
        if size != 2:
            raise DataError(
                f"a grid of codes needs a 2-D code, but this model's codes have {size} dimensions: "
                "choose two of them (dims / --dims 0,1; the others are held at their mean), or draw "
                "samples instead (--sample N)"
            )
        dims = (0, 1)
    dims = tuple(int(d) for d in dims)
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < size for d in dims):
        raise DataError(f"dims must be two different code dimensions between 0 and {size - 1}, not {dims}")
    needs_codes = isinstance(box, str) or size != 2
    Z_train = training_codes(model, codes)[0] if needs_codes else None
    x0, x1, y0, y1 = code_box(Z_train, box, dims)
    xs, ys = np.linspace(x0, x1, int(n)), np.linspace(y1, y0, int(n))
    base = np.zeros(size, np.float32) if Z_train is None else Z_train.mean(0)
    Z = np.tile(base, (int(n) * int(n), 1)).astype(np.float32)
    gx, gy = np.meshgrid(xs, ys)
    Z[:, dims[0]], Z[:, dims[1]] = gx.ravel(), gy.ravel()
    return model.inverse_transform(Z), Z, (x0, x1, y0, y1)


def sample(model, n: int = 64, density: str = "gaussian", seed: int = 0, codes=None):
    """Decode ``n`` codes drawn from ``density``; returns ``(images, codes)``. The same seed
    gives the same samples."""
    check_choices(("density", density, DENSITIES))
    if int(n) < 1:
        raise DataError(f"the number of samples must be at least 1, not {n}")
    limits.check("images", int(n), f"--sample {n} asks for {int(n):,} images")
    if density == "prior":
        if not getattr(model, "variational", False):
            raise DataError(
                "density 'prior' is for variational models (trained with --vae); fit a density to "
                "this model's codes instead: gaussian or gmm"
            )
        Z = np.random.default_rng(seed).standard_normal((int(n), model.code_size)).astype(np.float32)
    else:
        gmm = fit_density(training_codes(model, codes)[0], density, seed)
        gmm.random_state = seed
        with warnings.catch_warnings():  # NumPy's check trips on float round-off of a fitted covariance
            warnings.filterwarnings("ignore", "covariance is not symmetric positive-semidefinite")
            Z = gmm.sample(int(n))[0].astype(np.float32)
        Z = Z[np.random.default_rng(seed).permutation(len(Z))]  # sklearn returns them grouped by component
    return model.inverse_transform(Z), Z


def interpolate(model, a, b, steps: int = 10):
    """Decode ``steps`` evenly spaced codes on the line from the code of sample ``a`` to that of
    ``b`` (both ends included); returns ``(images, codes)``."""
    if int(steps) < 2:
        raise DataError(f"an interpolation needs at least 2 steps, not {steps}")
    limits.check("images", int(steps), f"--steps {steps} asks for {int(steps):,} images")
    ends = np.concatenate([model.transform(_one_sample(model, a, "a")), model.transform(_one_sample(model, b, "b"))])
    t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
    Z = (1 - t) * ends[0] + t * ends[1]
    return model.inverse_transform(Z), Z


def _one_sample(model, end, name: str) -> np.ndarray:
    """An end of an interpolation as one row of the model's inputs (in its own type: uint8 pixels
    are scaled by the model), or a one-line error naming it."""
    row, n_features = np.asarray(end), getattr(model, "n_features_in_", None)  # unfitted: transform says so
    if n_features is not None and row.size != n_features:
        raise DataError(
            f"{name} has {row.size} values (shape {row.shape}), but the model takes samples of {n_features}; "
            "give one sample at each end"
        )
    return row.reshape(1, -1)


def parse_dims(text: str | None):
    """``"0,3"`` -> ``(0, 3)``: the two code dimensions a grid spans (None: a 2-D code's own)."""
    if text is None:
        return None
    try:
        return tuple(int(v) for v in str(text).split(","))
    except ValueError:
        raise DataError(f"dims must be two code dimensions like 0,1, not {text!r}") from None


def draw(
    model,
    *,
    grid_size: int | None = None,
    n_samples: int = 64,
    box="auto",
    dims=None,
    density="gaussian",
    seed: int = 0,
    codes=None,
    labels=None,
):
    """Decode a grid (``grid_size`` points a side) or ``n_samples`` samples, for a figure.

    ``codes``/``labels`` are the training codes (None: those the model kept; a given ``box`` over a
    2-D code needs none). Returns ``(images, columns, extra, caption)``: the decoded samples, the
    figure's columns, what the figure draws beside them (the training codes and the box, for a
    grid) and a caption.
    """
    if grid_size is not None:
        try:
            codes, labels = training_codes(model, codes, labels)
        except DataError:  # no training codes: a given box over a 2-D code still works
            if isinstance(box, str) or model.code_size != 2:
                raise
            codes, labels = None, None
        images, _, spanned = grid(model, grid_size, box, dims, codes)
        extra = dict(codes=codes, labels=labels, box=spanned, dims=dims or (0, 1))
        caption = (
            f"{grid_size} x {grid_size} grid over codes [{spanned[0]:.2f}, {spanned[1]:.2f}] x "
            f"[{spanned[2]:.2f}, {spanned[3]:.2f}]"
        )
        return images, grid_size, extra, caption
    fitted = None if density == "prior" else training_codes(model, codes, labels)[0]
    images, _ = sample(model, n_samples, density, seed, fitted)
    return images, int(round(n_samples**0.5)) or 1, {}, f"{n_samples} samples, codes from {density} (seed {seed})"
