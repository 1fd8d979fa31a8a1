import math

import numpy as np
import pytest
import torch
from torch import nn

from aelab import AutoEncoder, datasets, load
from aelab.errors import ParameterError
from aelab.nn import mlp
from aelab.objectives import Corruption, Regularization, Sparsity, contractive_penalty, gaussian_kl
from aelab.training import TrainConfig, fit_module


def _finite_difference_jacobian_norm(f, x: torch.Tensor, eps: float = 1e-6) -> float:
    """Mean over samples of ||J||_F^2, by central differences, one input feature at a time."""
    total = torch.zeros(len(x), dtype=torch.float64)
    for i in range(x.shape[1]):
        step = torch.zeros_like(x)
        step[:, i] = eps
        total += ((f(x + step) - f(x - step)) / (2 * eps)).square().sum(1)
    return float(total.mean())


def test_contractive_penalty_matches_a_finite_difference_jacobian_for_a_deep_encoder():
    torch.manual_seed(0)
    encoder = mlp([7, 12, 9, 3], "tanh", "layer").double()  # deep, with normalisation and a nonlinearity
    x = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)
    exact = float(contractive_penalty(encoder(x), x, exact=True, create_graph=False))
    with torch.no_grad():
        reference = _finite_difference_jacobian_norm(encoder, x.detach())
    assert exact == pytest.approx(reference, rel=1e-6)
    # the one-backward-pass estimate is unbiased: its mean over many draws approaches the exact norm
    draws = [float(contractive_penalty(encoder(x), x, create_graph=False)) for _ in range(3000)]
    assert np.mean(draws) == pytest.approx(exact, rel=0.03)


def test_contractive_penalty_trains_the_encoder():
    torch.manual_seed(0)
    encoder = mlp([6, 8, 2], "gelu", "none")
    x = torch.randn(16, 6, requires_grad=True)
    contractive_penalty(encoder(x), x).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.parameters() if p.dim() == 2)


def test_corruptions_do_what_they_say():
    torch.manual_seed(0)
    x = torch.rand(200, 100)
    noisy = Corruption.parse("gaussian:0.3")(x)
    assert float((noisy - x).std()) == pytest.approx(0.3, rel=0.02)
    masked = Corruption.parse("mask:0.25")(x + 1)
    assert float((masked == 0).float().mean()) == pytest.approx(0.25, abs=0.01)
    sp = Corruption.parse("salt-pepper:0.2")(x)
    changed = sp != x
    assert float(changed.float().mean()) == pytest.approx(0.2, abs=0.01)
    assert set(sp[changed].unique().tolist()) <= {float(x.min()), float(x.max())}
    assert Corruption.parse(None) is None and str(Corruption.parse("mask:0.5")) == "mask:0.5"


@pytest.mark.parametrize("spec", ["gaussian", "gaussian:-1", "mask:1.5", "blur:0.2", "mask:x"])
def test_bad_corruption_specs_are_one_line_errors(spec):
    with pytest.raises(ParameterError, match="denoise"):
        Corruption.parse(spec)


def test_sparsity_penalties():
    code = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    assert float(Sparsity.parse("l1:0.5")(code)) == pytest.approx(0.5 * (3 + 3) / 2)
    kl = Sparsity.parse("kl:2")
    assert kl.rate == 0.05 and str(kl) == "kl:2:0.05"
    at_target = torch.full((4, 3), math.log(0.05 / 0.95))  # sigmoid of this is the target rate
    assert float(kl(at_target)) == pytest.approx(0.0, abs=1e-6)
    assert float(kl(torch.zeros(4, 3))) > 0
    for bad in ("l2:1", "l1", "kl:1:2", "l1:1:2"):
        with pytest.raises(ParameterError, match="sparse"):
            Sparsity.parse(bad)


def test_gaussian_kl_matches_torch_distributions():
    mean, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.7]])
    q = torch.distributions.Normal(mean, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    assert float(gaussian_kl(mean, logvar)) == pytest.approx(float(torch.distributions.kl_divergence(q, p).sum()))
    assert float(gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4))) == 0.0


def test_beta_warms_up_linearly():
    reg = Regularization.from_params(variational=True, beta=2.0, beta_warmup=4)
    assert [reg.beta_at(e) for e in (0, 1, 4, 10, math.inf)] == [0.0, 0.5, 2.0, 2.0, 2.0]
    with pytest.raises(ParameterError, match="beta"):
        Regularization.from_params(beta=-1)


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


# each test switches on the terms it is about (keep_neighbours is on by default, for search)
SMALL = dict(n_components=4, hidden_layer_sizes=(48, 24), epochs=15, batch_size=32, random_state=0, keep_neighbours=0.0)


def test_terms_combine_are_logged_separately_and_saved(digits, tmp_path):
    ae = AutoEncoder(denoise="gaussian:0.2", sparse="l1:1e-3", code_l2=0.01, **SMALL).fit(digits.train.X)
    last = ae.history_[-1]
    assert {"reconstruction", "sparse", "code_l2"} <= set(last)
    assert last["loss"] == pytest.approx(last["reconstruction"] + last["sparse"] + last["code_l2"], rel=1e-4)
    ae.save(tmp_path / "m")
    back = load(tmp_path / "m")
    assert back.terms_ == {"denoise": "gaussian:0.2", "sparse": "l1:0.001", "code_l2": 0.01}
    assert "terms_" in (tmp_path / "m" / "config.json").read_text()
    np.testing.assert_array_equal(back.transform(digits.test.X), ae.transform(digits.test.X))


def test_denoising_auto_encoder_reconstructs_noisy_inputs_better_than_a_plain_one(digits):
    plain = AutoEncoder(**SMALL).fit(digits.train.X)
    denoising = AutoEncoder(denoise="gaussian:0.3", **SMALL).fit(digits.train.X)

    def error_from_noisy(model):
        _, recon = model.denoise_reconstruct(digits.test.X, "gaussian:0.3", seed=1)
        return float(np.mean(np.sum((recon - digits.test.X) ** 2, 1)))

    assert error_from_noisy(denoising) < 0.9 * error_from_noisy(plain)


def test_code_l2_and_sparsity_shrink_the_codes(digits):
    plain = AutoEncoder(**SMALL).fit(digits.train.X).transform(digits.test.X)
    l2 = AutoEncoder(code_l2=0.5, **SMALL).fit(digits.train.X).transform(digits.test.X)
    l1 = AutoEncoder(sparse="l1:0.5", **SMALL).fit(digits.train.X).transform(digits.test.X)
    assert np.square(l2).sum(1).mean() < 0.5 * np.square(plain).sum(1).mean()
    assert np.abs(l1).sum(1).mean() < 0.5 * np.abs(plain).sum(1).mean()


def test_variational_auto_encoder_gives_mean_codes_and_a_kl_term(digits):
    vae = AutoEncoder(variational=True, beta_warmup=3, **SMALL).fit(digits.train.X)
    assert "kl" in vae.history_[-1] and vae.history_[-1]["kl"] > 0
    codes = vae.transform(digits.test.X)
    assert codes.shape == (len(digits.test.X), 4)
    np.testing.assert_array_equal(codes, vae.transform(digits.test.X))  # the mean: no sampling
    assert vae.module_.encoder[-1].out_features == 8  # mean and log-variance
    assert vae.inverse_transform(codes).shape == digits.test.X.shape


def test_noise_is_part_of_the_checkpoint_so_resumed_runs_match(tmp_path):
    """A denoising run interrupted after epoch 2 and resumed ends bit-for-bit where a straight run ends."""
    X = np.random.default_rng(0).random((64, 10)).astype(np.float32)
    reg = Regularization.from_params(denoise="gaussian:0.5", variational=True)

    def build():
        torch.manual_seed(0)
        from aelab.nn import MLPAutoEncoderNet

        return MLPAutoEncoderNet(10, (8,), 3, "gelu", "batch", variational=True)

    def loss(module, batch, epoch):
        from aelab.objectives import objective

        return objective(module, batch[0], epoch, reg, lambda lg, t: (lg - t).square().sum(1).mean())

    config = TrainConfig(epochs=4, batch_size=16, seed=3)
    straight = build()
    fit_module(straight, X, loss, config, progress=False)

    def interrupted(module, batch, epoch):
        if epoch >= 2:
            raise KeyboardInterrupt
        return loss(module, batch, epoch)

    resumed = build()
    with pytest.raises(KeyboardInterrupt):
        fit_module(resumed, X, interrupted, config, checkpoint_dir=tmp_path, progress=False)
    torch.rand(5)  # the caller's generator moves on; the run's own state must not depend on it
    resumed = build()
    fit_module(resumed, X, loss, config, checkpoint_dir=tmp_path, resume=True, progress=False)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_training_leaves_the_callers_random_generator_alone():
    X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    AutoEncoder(
        n_components=2, hidden_layer_sizes=(8,), epochs=2, batch_size=8, denoise="mask:0.3", random_state=0
    ).fit(X)
    assert torch.equal(torch.rand(3), expected)


def test_decoder_weight_decay_gets_its_own_group():
    ae = AutoEncoder(n_components=2, hidden_layer_sizes=(8,), decoder_weight_decay=0.5)
    ae._choose_architecture(n_train=100)
    ae.module_ = ae._build(6)
    groups = ae._param_groups()
    decoder_ids = {id(p) for p in ae.module_.decoder.parameters()}
    assert groups[1]["weight_decay"] == 0.5 and {id(p) for p in groups[1]["params"]} == decoder_ids
    assert not decoder_ids & {id(p) for p in groups[0]["params"]}
    assert isinstance(ae.module_, nn.Module)


def test_keep_distances_makes_the_codes_distances_follow_the_inputs(digits):
    from aelab.objectives import distance_keeping

    x = torch.rand(6, 5)
    assert float(distance_keeping(x, 3 * x)) == pytest.approx(0, abs=1e-6)  # a scaled copy keeps every distance
    assert float(distance_keeping(x, torch.rand(6, 2))) > 0.01

    def agreement(model) -> float:
        codes, X = model.transform(digits.test.X), digits.test.X
        upper = np.triu_indices(len(X), 1)
        return float(np.corrcoef(_distances(codes)[upper], _distances(X)[upper])[0, 1])

    plain = AutoEncoder(**SMALL).fit(digits.train.X)
    keeping = AutoEncoder(**{**SMALL, "keep_distances": "auto"}).fit(digits.train.X)
    assert "keep_distances" in keeping.history_[-1] and keeping.terms_ == {"keep_distances": 30.0}
    assert agreement(keeping) > agreement(plain) + 0.05


def test_keep_neighbours_is_on_by_default_for_real_valued_and_binary_codes():
    def weight(n_features=64, **params) -> float:
        return AutoEncoder(**params)._regularization(n_features).keep_neighbours

    assert weight() == pytest.approx(25.6) and weight(784) == pytest.approx(313.6)  # 0.4 per input feature
    assert weight(keep_neighbours=2.5) == 2.5
    assert weight(binary=True) == pytest.approx(25.6) and weight(variational=True) == 0.0
    assert weight(variational=True, keep_neighbours=4.0) == 4.0  # a given weight always wins
    distances = AutoEncoder(keep_distances="auto")._regularization(64).keep_distances
    assert distances == 30.0 and AutoEncoder()._regularization(64).keep_distances == 0.0  # its default before
    with pytest.raises(ParameterError, match="keep_neighbours"):
        AutoEncoder(keep_neighbours="most")._regularization()


def _distances(A: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(0, np.square(A).sum(1)[:, None] - 2 * A @ A.T + np.square(A).sum(1)[None, :]))
