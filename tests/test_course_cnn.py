"""The course CNN (``build_cnn``) and its pictures (``plot_filters``, ``plot_feature_maps``)."""

from __future__ import annotations

import numpy as np
import pytest

from netcore.course import build_cnn
from netcore.plotting import feature_maps, plot_feature_maps, plot_filters

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def cnn():
    model = build_cnn(num_classes=24, seed=3, backend="cpu")
    model.build()
    return model


def test_build_cnn_is_the_course_network(cnn):
    lines: list[str] = []
    cnn.summary(print_fn=lines.append)
    text = "\n".join(lines)
    # Keras' count for the course network (issue #17): 264,049, 300 of them non-trainable.
    assert "Total params: 264,049" in text and "Non-trainable params: 300" in text
    kinds = [type(layer).__name__ for layer in cnn.layers]
    assert kinds == [
        "Conv2D", "BatchNormalization", "MaxPooling2D",
        "Conv2D", "Dropout", "BatchNormalization", "MaxPooling2D",
        "Conv2D", "BatchNormalization", "MaxPooling2D",
        "Flatten", "Dense", "Dropout", "Dense",
    ]  # fmt: skip
    assert [ly.filters for ly in cnn.layers if hasattr(ly, "filters")] == [75, 50, 25]
    assert [ly.rate for ly in cnn.layers if type(ly).__name__ == "Dropout"] == [0.2, 0.3]
    assert cnn.input_shape == (28, 28, 1)
    assert cnn.predict(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 24)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_classes": 1}, "num_classes must be an integer >= 2, received 1"),
        ({"num_classes": 10.0}, "num_classes must be an integer >= 2, received 10.0"),
        ({"input_shape": (28, 28)}, r"input_shape must be \(height, width, channels\)"),
        ({"input_shape": (28, 0, 1)}, r"received \(28, 0, 1\)"),
    ],
)
def test_build_cnn_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_cnn(**kwargs)


def test_plot_filters_draws_the_first_layers_kernels(cnn, tmp_path):
    fig = plot_filters(cnn)  # no file name: the Figure
    kernel = cnn.layers[0].get_weights()[0]
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 75
    for f in (0, 41, 74):
        np.testing.assert_array_equal(
            np.asarray(drawn[f].images[0].get_array()), kernel[:, :, 0, f]
        )
    # One colour scale for all, symmetric about 0.
    limit = np.abs(kernel).max()
    assert drawn[5].images[0].get_clim() == pytest.approx((-limit, limit))
    path = plot_filters(cnn, tmp_path / "f.png", layer="conv2d_1", channel=7)
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"channel must be an input channel of 'conv2d', 0..0"):
        plot_filters(cnn, channel=1)
    with pytest.raises(ValueError, match=r"layer must be the index \(0..2\) or the name"):
        plot_filters(cnn, layer=3)


def _conv_same_relu(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """3x3 "same" convolution of one (H, W, 1) image by loops: the independent reference."""
    h, w, _ = image.shape
    padded = np.pad(image[..., 0].astype(np.float64), 1)
    out = np.empty((h, w, kernel.shape[-1]))
    for i in range(h):
        for j in range(w):
            window = padded[i : i + 3, j : j + 3]
            out[i, j] = np.tensordot(window, kernel[:, :, 0, :], axes=([0, 1], [0, 1])) + bias
    return np.maximum(out, 0.0)


def test_feature_maps_follow_the_image_through_conv_and_pool_layers(cnn):
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    maps = feature_maps(cnn, image)
    assert [(name, m.shape) for name, m in maps] == [
        ("input", (28, 28, 1)),
        ("conv2d", (28, 28, 75)),
        ("max_pooling2d", (14, 14, 75)),
        ("conv2d_1", (14, 14, 50)),
        ("max_pooling2d_1", (7, 7, 50)),
        ("conv2d_2", (7, 7, 25)),
        ("max_pooling2d_2", (4, 4, 25)),
    ]
    kernel, bias = cnn.layers[0].get_weights()
    expected = _conv_same_relu(image[..., None], kernel.astype(np.float64), bias)
    np.testing.assert_allclose(maps[1][1], expected, rtol=1e-4, atol=1e-5)
    fig = plot_feature_maps(cnn, image, max_maps=4)
    rows = [ax for ax in fig.axes if ax.images]
    assert len(rows) == 1 + 6 * 4  # the input's one channel, then 4 maps per layer
    np.testing.assert_array_equal(np.asarray(rows[1].images[0].get_array()), maps[1][1][:, :, 0])
    with pytest.raises(ValueError, match=r"image must be one image of the model's input shape"):
        plot_feature_maps(cnn, np.zeros((27, 28)))
    with pytest.raises(ValueError, match="max_maps must be a positive integer, received 0"):
        plot_feature_maps(cnn, image, max_maps=0)


@pytest.mark.slow
def test_course_cnn_learns_bundled_mnist():
    """Three epochs on 2,000 of the bundled MNIST images (batch 32, the course's compile): the
    training accuracy passes 0.9. The validation accuracy is not asserted this early: with
    momentum 0.99 the batch norms' moving statistics, which inference uses, still carry their
    starting values after 189 steps (benchmarks/cnn_accuracy.py measures it after 5 epochs)."""
    from netcore.datasets import mnist
    from netcore.utils import to_categorical

    (x, y), _ = mnist.load_bundled()
    x = x[:2000, ..., None] / np.float32(255.0)
    model = build_cnn(num_classes=10, seed=0, backend="cpu")
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(x, to_categorical(y[:2000], 10), batch_size=32, epochs=3, verbose=0).history
    print("training accuracy per epoch:", hist["accuracy"])
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["accuracy"][-1] > 0.9
