import numpy as np
import pytest
import torch

from aelab import AutoEncoder, Classifier, datasets, load
from aelab.errors import DataError, ModelError, ParameterError
from aelab.nn import mlp
from aelab.objectives import reconstruction_loss
from aelab.training import TrainConfig, greedy_layerwise, load_stack


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


def _bce(logits, target):
    return reconstruction_loss("bce", logits, target, "sigmoid")


def test_greedy_layerwise_trains_each_layer_on_the_codes_of_the_one_below(digits):
    sizes = [64, 32, 16, 4]
    stages = greedy_layerwise(
        digits.train.X, sizes, "gelu", "batch", _bce, TrainConfig(batch_size=64, seed=0), epochs=6, code_layer=True
    )
    assert [s.block[0].weight.shape for s in stages] == [(32, 64), (16, 32), (4, 16)]
    assert [s.decoder.weight.shape for s in stages] == [(64, 32), (32, 16), (16, 4)]
    assert len(stages[-1].block) == 1  # the code layer is linear
    for s in stages:  # every shallow auto-encoder learned
        assert s.history[-1]["loss"] < 0.9 * s.history[0]["loss"]

    encoder = mlp(sizes, "gelu", "batch")
    decoder = mlp(list(reversed(sizes)), "gelu", "batch")
    assert load_stack(encoder, stages, decoder) == len(encoder)
    assert torch.equal(encoder[0].weight, stages[0].block[0].weight)
    assert torch.equal(encoder[1].running_mean, stages[0].block[1].running_mean)
    assert torch.equal(encoder[-1].weight, stages[-1].block[0].weight)
    assert torch.equal(decoder[0].weight, stages[-1].decoder.weight)  # mirror order
    assert torch.equal(decoder[-1].weight, stages[0].decoder.weight)


def test_auto_encoder_with_greedy_pretraining(digits):
    ae = AutoEncoder(
        n_components=4,
        hidden_layer_sizes=(32, 16),
        pretrain="greedy",
        pretrain_epochs=3,
        epochs=3,
        batch_size=64,
        random_state=0,
    ).fit(digits.train.X)
    assert len(ae.pretrain_history_) == 3 and all(len(h) == 3 for h in ae.pretrain_history_)
    with pytest.raises(ParameterError, match="pretrain"):
        AutoEncoder(pretrain="rbm").fit(digits.train.X)


def test_denoising_layers_see_corrupted_inputs_and_reconstruct_clean_ones(digits):
    """With mask noise of 0.99 a layer sees almost nothing, so it cannot learn to reconstruct."""
    from aelab.objectives import Corruption

    config = TrainConfig(batch_size=64, seed=0)
    clean = greedy_layerwise(digits.train.X, [64, 16], "gelu", "batch", _bce, config, epochs=5, code_layer=False)
    blind = greedy_layerwise(
        digits.train.X,
        [64, 16],
        "gelu",
        "batch",
        _bce,
        config,
        epochs=5,
        code_layer=False,
        corruption=Corruption.parse("mask:0.99"),
    )
    assert blind[0].history[-1]["loss"] > 1.1 * clean[0].history[-1]["loss"]
    with pytest.raises(ParameterError, match="denoise"):
        Classifier(pretrain="greedy", pretrain_denoise="blur:1").fit(digits.train.X, digits.train.y)


def test_classifier_takes_the_encoders_hidden_layers(digits, tmp_path):
    ae = AutoEncoder(n_components=4, hidden_layer_sizes=(32, 16), epochs=3, batch_size=64, random_state=0)
    ae.fit(digits.train.X).save(tmp_path / "ae")
    clf = Classifier(
        init=str(tmp_path / "ae"), epochs=1, batch_size=64, learning_rate=1e-9, weight_decay=0.0, random_state=0
    ).fit(digits.train.X, digits.train.y)
    body = clf.module_[0]
    assert torch.allclose(body[0].weight, ae.module_.encoder[0].weight, atol=1e-6)  # lr ~ 0: unchanged
    assert torch.allclose(body[3].weight, ae.module_.encoder[3].weight, atol=1e-6)
    assert clf.module_[1].in_features == 16 and clf.module_[1].out_features == 10  # new top layer


def test_classifier_learns_digits_and_round_trips(digits, tmp_path):
    clf = Classifier(hidden_layer_sizes=(64,), epochs=30, batch_size=64, random_state=0)
    clf.fit(digits.train.X, digits.train.y)
    assert clf.score(digits.test.X, digits.test.y) > 0.93
    clf.save(tmp_path / "clf")
    back = load(tmp_path / "clf")
    np.testing.assert_array_equal(back.predict(digits.test.X), clf.predict(digits.test.X))
    np.testing.assert_allclose(back.predict_proba(digits.test.X).sum(1), 1.0, rtol=1e-5)


def test_classifier_errors(digits, tmp_path):
    with pytest.raises(ParameterError, match="choose one start"):
        Classifier(init="x", pretrain="greedy").fit(digits.train.X, digits.train.y)
    with pytest.raises(DataError, match="one label per sample"):
        Classifier().fit(digits.train.X, digits.train.y[:-1])
    with pytest.raises(ModelError, match="no model"):
        Classifier(init=str(tmp_path / "missing")).fit(digits.train.X, digits.train.y)


def test_classifier_keeps_a_trained_encoder_through_get_params_clone_and_saving(digits, tmp_path):
    from sklearn.base import clone

    ae = AutoEncoder(n_components=4, hidden_layer_sizes=(32, 16), epochs=3, batch_size=64, random_state=0)
    ae.fit(digits.train.X)
    clf = Classifier(init=ae, epochs=2, batch_size=64, random_state=0)
    assert clf.get_params()["init"] is ae  # what was given, not None
    twin = clone(clf)
    assert twin.init is ae  # the trained encoder, not an untrained copy of it
    clf.fit(digits.train.X, digits.train.y)
    twin.fit(digits.train.X, digits.train.y)
    np.testing.assert_array_equal(twin.predict_proba(digits.test.X), clf.predict_proba(digits.test.X))
    clf.save(tmp_path / "clf")
    back = load(tmp_path / "clf")
    assert isinstance(back.init, AutoEncoder)
    np.testing.assert_array_equal(back.init.transform(digits.test.X), ae.transform(digits.test.X))
    again = clone(back).fit(digits.train.X, digits.train.y)  # a clone of a loaded one still starts from the encoder
    np.testing.assert_array_equal(again.predict_proba(digits.test.X), clf.predict_proba(digits.test.X))
    with pytest.raises(ModelError, match="never trained"):
        Classifier(init=AutoEncoder(n_components=4), epochs=1).fit(digits.train.X, digits.train.y)
