"""How good generated samples are, judged by a classifier trained on the real data with aelab.

- the share of samples the classifier puts in one class with confidence above 0.9 (does each
  sample look like some class?);
- the entropy of the histogram of predicted classes, in bits (are all classes drawn, evenly? For
  ten classes the most is log2(10) = 3.32);
- the Frechet distance between the samples and real test data in the classifier's last hidden
  layer: ``|mu_a - mu_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2))`` of the two sets' feature
  Gaussians. This is the formula of FID, but not the Inception-based FID that papers report: the
  features here come from a small MLP trained on this data set, so the values compare only with
  one another, under the same classifier.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from ..datasets import natural_key
from ..errors import DataError, ModelError
from ..models import Classifier, load

CONFIDENCE = 0.9


def frechet_distance(A: np.ndarray, B: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to the rows of ``A`` and of ``B``."""
    if len(A) < 2 or len(B) < 2:
        raise DataError("a Frechet distance needs at least 2 samples in each set")
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    mu_a, mu_b = A.mean(0), B.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(A, rowvar=False)), np.atleast_2d(np.cov(B, rowvar=False))
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():  # a singular product: nudge both covariances
        eps = 1e-6 * np.eye(len(cov_a))
        root = scipy.linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    value = np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(np.real(root))
    return float(max(value, 0.0))


def sample_quality(samples: np.ndarray, classifier, reference: np.ndarray) -> dict:
    """The three figures of ``samples`` under a fitted :class:`aelab.Classifier`, with
    ``reference`` (real test samples) for the Frechet distance."""
    proba = classifier.predict_proba(samples)
    predicted = proba.argmax(1)
    counts = np.bincount(predicted, minlength=len(classifier.classes_))
    share = counts / counts.sum()
    nonzero = share[share > 0]
    return {
        "n_samples": int(len(samples)),
        "confident_share": float((proba.max(1) > CONFIDENCE).mean()),
        "class_entropy_bits": float(-(nonzero * np.log2(nonzero)).sum()),
        "max_entropy_bits": float(np.log2(len(classifier.classes_))),
        "class_histogram": {
            str(c): int(n)
            for c, n in sorted(zip(classifier.classes_.tolist(), counts), key=lambda cn: natural_key(cn[0]))
        },
        "frechet_distance": frechet_distance(classifier.features(samples), classifier.features(reference)),
    }


def quality_classifier(X: np.ndarray, y: np.ndarray, seed: int = 0, verbose: bool = False):
    """The small classifier that judges samples: 256-256 hidden units, 10 epochs (its accuracy
    on MNIST is in docs/benchmarks/generation.md)."""
    return Classifier(
        hidden_layer_sizes=(256, 256),
        epochs=10,
        batch_size=256,
        validation_fraction=0.0,
        patience=None,
        random_state=seed,
        verbose=verbose,
    ).fit(X, y)


def judge(X: np.ndarray, y: np.ndarray, folder=None, verbose: bool = False):
    """The classifier that judges samples of data like ``X``: loaded from ``folder`` when it holds
    one, else trained on ``X, y`` (and saved in ``folder``, when given)."""
    from pathlib import Path

    if folder is not None and Path(folder).exists():
        classifier = load(folder)
        if not isinstance(classifier, Classifier):
            raise ModelError(f"{folder} holds a {type(classifier).__name__}, not a classifier")
        classifier.check_n_features(X.shape[1], "the data")
        return classifier
    classifier = quality_classifier(X, y, verbose=verbose)
    if folder is not None:
        classifier.save(folder)
    return classifier


def evaluate_samples(
    model,
    ds,
    *,
    grid_size: int | None = None,
    n_samples: int = 1000,
    box="auto",
    dims=None,
    density: str = "gaussian",
    seed: int = 0,
    classifier=None,
    verbose: bool = False,
) -> dict:
    """Draw from ``model`` (a grid of ``grid_size`` a side, else ``n_samples`` samples; see
    :func:`aelab.generate.draw`, over the training codes the model kept, as ``aelab generate`` does,
    or those of ``ds``'s training samples for a model that kept none) and judge what it
    draws (:func:`sample_quality`) with the classifier of :func:`judge` (``classifier``: its folder).

    Returns the figures, with what was drawn (``what``) and the judge's test accuracy.
    """
    from .sampling import draw

    if ds.train.y is None:
        raise DataError(f"{ds.name} has no labels; the judging classifier needs labelled samples")
    model.check_n_features(ds.n_features, f"the data {ds.name}")
    codes = labels = None  # the training codes the model kept, as aelab generate uses them
    if getattr(model, "code_sample_", None) is None:
        codes, labels = model.transform(ds.train.X), ds.train.y
    images, _, _, what = draw(
        model,
        grid_size=grid_size,
        n_samples=n_samples,
        box=box,
        dims=dims,
        density=density,
        seed=seed,
        codes=codes,
        labels=labels,
    )  # drawn first: a request that cannot be drawn is refused before the judge is trained
    judge_model = judge(ds.train.X, ds.train.y, classifier, verbose=verbose)
    accuracy = float((judge_model.predict(ds.test.X) == ds.test.y).mean())
    figures = sample_quality(images, judge_model, ds.test.X)
    figures.update(what=what, classifier_test_accuracy=accuracy)
    return figures
