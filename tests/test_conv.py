import numpy as np
import pytest
import torch

from aelab import ConvAutoEncoder, datasets, load
from aelab.errors import DataError, ParameterError
from aelab.nn import ConvAutoEncoderNet


def _net(unpooling, size=(5, 5)):
    return ConvAutoEncoderNet(size, (1,), 3, 2, unpooling, "deconv", None, "relu", "none")


def test_max_unpooling_puts_each_value_back_where_its_maximum_was():
    net = _net("max")
    x = torch.tensor([[1.0, 9, 2, 0, 3], [4, 0, 0, 8, 0], [0, 0, 5, 0, 0], [6, 0, 0, 0, 0], [0, 0, 0, 0, 7]])[
        None, None
    ]
    pooled, switches = torch.nn.functional.max_pool2d(x, 2, ceil_mode=True, return_indices=True)
    assert pooled[0, 0].tolist() == [[9, 8, 3], [6, 5, 0], [0, 0, 7]]  # odd size: edge blocks pooled too
    back = net._unpool(pooled, (5, 5), switches)
    expected = torch.zeros(5, 5)
    for r, c in [(0, 1), (1, 3), (0, 4), (3, 0), (2, 2), (4, 4)]:
        expected[r, c] = x[0, 0, r, c]
    assert torch.equal(back[0, 0], expected)


def test_nearest_unpooling_copies_each_value_to_its_block_and_crops_to_size():
    net = _net("nearest")
    pooled = torch.tensor([[1.0, 2, 3], [4, 5, 6], [7, 8, 9]])[None, None]
    back = net._unpool(pooled, (5, 5), None)
    assert back.shape[-2:] == (5, 5)
    assert back[0, 0, :2, :2].eq(1).all() and back[0, 0, 2:4, 2:4].eq(5).all() and back[0, 0, 4, 4] == 9


def test_max_unpooling_without_switches_uses_the_top_left_corner():
    net = _net("max", (4, 4))
    back = net._unpool(torch.tensor([[1.0, 2], [3, 4]])[None, None], (4, 4), None)
    assert back[0, 0].tolist() == [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize("unpooling", ["max", "nearest"])
@pytest.mark.parametrize("upsampling", ["deconv", "conv"])
def test_colour_images_of_odd_size_round_trip(tmp_path, unpooling, upsampling):
    rng = np.random.default_rng(0)
    images = rng.random((40, 9, 7, 3)).astype(np.float32)
    model = ConvAutoEncoder(
        channels=(4, 6),
        n_components=3,
        unpooling=unpooling,
        upsampling=upsampling,
        epochs=2,
        batch_size=8,
        random_state=0,
    ).fit(images)
    assert model.image_shape_ == (9, 7, 3)
    flat = images.reshape(40, -1)
    assert model.transform(flat).shape == (40, 3)
    assert model.reconstruct(flat).shape == flat.shape
    assert model.inverse_transform(np.zeros((2, 3), np.float32)).shape == (2, 189)
    model.save(tmp_path / "m")
    back = load(tmp_path / "m")
    np.testing.assert_allclose(back.reconstruct(flat), model.reconstruct(flat), atol=1e-6)


def test_without_a_dense_code_the_pooled_maps_are_the_code():
    images = np.random.default_rng(0).random((20, 28, 28)).astype(np.float32)
    model = ConvAutoEncoder(n_components=None, channels=(4, 2, 2), epochs=1, batch_size=10).fit(images)
    assert model.code_size == 2 * 4 * 4  # 28 -> 14 -> 7 -> 4
    assert model.transform(images.reshape(20, -1)).shape == (20, 32)


def test_conv_auto_encoder_learns_digits():
    ds = datasets.load("digits")
    model = ConvAutoEncoder(
        channels=(16, 8), unpooling="nearest", epochs=25, batch_size=32, learning_rate=1e-2, random_state=0
    ).fit(ds.train.X, image_shape=ds.image_shape)
    mean_image = ds.train.X.mean(0)
    baseline = float(np.mean(np.sum((ds.test.X - mean_image) ** 2, 1)))
    assert model.reconstruction_error(ds.test.X) < 0.5 * baseline


def test_conv_errors_are_one_line():
    with pytest.raises(DataError, match="needs images"):
        ConvAutoEncoder(epochs=1).fit(np.random.default_rng(0).random((10, 12)))
    with pytest.raises(ParameterError, match="needs a dense code"):
        ConvAutoEncoder(n_components=None, variational=True, epochs=1).fit(np.zeros((4, 8, 8), np.float32))
    with pytest.raises(ParameterError, match="kernel_size must be an odd whole number"):
        ConvAutoEncoder(kernel_size=4, epochs=1).fit(np.zeros((4, 8, 8), np.float32))
    with pytest.raises(ParameterError, match="unpooling"):
        ConvAutoEncoder(unpooling="bilinear", epochs=1).fit(np.zeros((4, 8, 8), np.float32))


def test_regularizers_compose_with_the_conv_architecture():
    images = np.random.default_rng(0).random((32, 8, 8)).astype(np.float32)
    model = ConvAutoEncoder(
        channels=(4,),
        n_components=2,
        variational=True,
        contractive=0.1,
        denoise="mask:0.2",
        epochs=2,
        batch_size=8,
        random_state=0,
    ).fit(images)
    assert {"reconstruction", "contractive", "kl"} <= set(model.history_[-1])


def test_the_image_shape_can_be_a_constructor_parameter_and_fit_s_argument_still_wins(tmp_path):
    rows = np.random.default_rng(0).random((40, 48), dtype=np.float32)
    tiny = dict(channels=(2,), n_components=2, epochs=1, batch_size=16, random_state=0)
    assert ConvAutoEncoder(image_shape=(6, 8), **tiny).fit(rows).image_shape_ == (6, 8)
    assert ConvAutoEncoder(image_shape=(6, 8), **tiny).fit(rows, image_shape=(4, 12)).image_shape_ == (4, 12)
    strip = ConvAutoEncoder(image_shape=(1, -1), **tiny).fit(rows)  # one side inferred: rows as 1-D signals
    assert strip.image_shape_ == (1, 48) and strip.transform(rows).shape == (40, 2)
    back = load(strip.save(tmp_path / "strip"))
    assert back.image_shape == (1, -1) and back.image_shape_ == (1, 48)
    np.testing.assert_array_equal(back.transform(rows), strip.transform(rows))


@pytest.mark.parametrize("shape", [(0, 4), (-1, -1), (2.5, 4), (4,), "8x8"])
def test_a_bad_image_shape_parameter_is_one_line(shape):
    with pytest.raises(ParameterError, match="image_shape must be None or") as info:
        ConvAutoEncoder(image_shape=shape).fit(np.zeros((4, 16), np.float32))
    assert "\n" not in str(info.value)


def test_an_image_shape_that_does_not_fit_the_features_is_one_line():
    with pytest.raises(DataError, match=r"image_shape \(5, -1\)|does not divide 48 features"):
        ConvAutoEncoder(image_shape=(5, -1)).fit(np.zeros((4, 48), np.float32))
    with pytest.raises(DataError, match="does not match 48 features"):
        ConvAutoEncoder(image_shape=(5, 5)).fit(np.zeros((4, 48), np.float32))
