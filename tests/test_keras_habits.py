"""Keras habits a learner brings: evaluate's return value, layer weights, Input, one sample
without a batch axis, and the warnings for a non-probability head and unscaled inputs."""

import warnings

import numpy as np
import pytest

import netcore as nc
from netcore.layers import Dense, Dropout, Flatten, Input
from netcore.models import Sequential
from netcore.utils import to_categorical

RNG = np.random.default_rng(11)
X = RNG.normal(size=(30, 4)).astype(np.float32)
LABELS = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
Y = to_categorical(LABELS, 3)


def mlp(seed=0, last="softmax"):
    return Sequential(
        [Dense(5, activation="tanh", input_shape=(4,)), Dense(3, activation=last)],
        backend="cpu",
        seed=seed,
        dtype="float64",
    )


def reference_cce_and_accuracy(m, x, labels):
    """Independent NumPy forward pass of the two-layer model: softmax CCE and accuracy."""
    w1, b1, w2, b2 = m.get_weights()
    z = np.tanh(x @ w1 + b1) @ w2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(x)), labels])), np.mean(p.argmax(1) == labels)


def test_evaluate_returns_the_loss_alone_without_metrics():
    m = mlp()
    m.compile(loss="categorical_crossentropy")
    loss = m.evaluate(X, Y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(reference_cce_and_accuracy(m, X, LABELS)[0], rel=1e-12)


def test_evaluate_returns_loss_then_metrics_in_compile_order():
    m = mlp()
    m.compile(loss="categorical_crossentropy", metrics=["mse", "accuracy"])
    loss, mse, acc = m.evaluate(X, Y)
    ref_loss, ref_acc = reference_cce_and_accuracy(m, X, LABELS)
    assert loss == pytest.approx(ref_loss, rel=1e-12) and acc == pytest.approx(ref_acc)
    assert mse == pytest.approx(np.mean((m.predict(X) - Y) ** 2), rel=1e-12)
    assert m.evaluate(X, Y, return_dict=True) == {"loss": loss, "mse": mse, "accuracy": acc}
    with pytest.raises(ValueError, match="return_dict must be True or False, received 'yes'"):
        m.evaluate(X, Y, return_dict="yes")


def test_layer_get_weights_are_copies_of_that_layers_kernel_and_bias():
    m = mlp()
    first, second = m.layers
    kernel, bias = first.get_weights()
    assert kernel.shape == (4, 5) and bias.shape == (5,)
    for a, b in zip(first.get_weights() + second.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)
    kernel[...] = 7.0  # a copy: the model is unchanged
    assert not np.any(m.get_weights()[0] == 7.0)
    assert Dropout(0.5).get_weights() == [] and Dense(3).get_weights() == []


def test_layer_set_weights_lands_in_the_model_and_trains_from_there():
    m = mlp()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    w2 = RNG.normal(size=(5, 3))
    b2 = np.array([0.5, -0.5, 0.0])
    m.layers[1].set_weights([w2, b2])
    np.testing.assert_array_equal(m.get_weights()[2], w2)
    np.testing.assert_array_equal(m.get_weights()[3], b2)
    w1, b1 = m.layers[0].get_weights()
    z = np.tanh(X @ w1 + b1) @ w2 + b2
    expected = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    np.testing.assert_allclose(m.predict(X), expected, rtol=1e-12)
    m.fit(X, Y, epochs=1, verbose=0)  # the optimizer updates the values just set
    assert not np.array_equal(m.layers[1].get_weights()[0], w2)


@pytest.mark.parametrize(
    "weights,match",
    [
        (
            lambda layer: layer.get_weights()[:1],
            r"set_weights expected a list of 2 arrays, received 1",
        ),
        (
            lambda layer: [np.zeros((5, 4)), np.zeros(3)],
            r"weight 0 \(dense_1.kernel\) must have shape \(5, 3\), received \(5, 4\)",
        ),
        (
            lambda layer: [np.full((5, 3), np.nan), np.zeros(3)],
            r"weight 0 \(dense_1.kernel\) holds NaN or inf",
        ),
    ],
)
def test_layer_set_weights_errors_name_the_weight(weights, match):
    layer = mlp().layers[1]
    with pytest.raises(ValueError, match=match):
        layer.set_weights(weights(layer))


def test_set_weights_on_an_unbuilt_layer_says_it_has_no_weights_yet():
    with pytest.raises(ValueError, match=r"layer 'dense' is not built yet"):
        Dense(3).set_weights([np.zeros((4, 3)), np.zeros(3)])


def test_input_first_declares_the_input_shape_like_input_shape_on_the_first_layer():
    with_input = Sequential(
        [Input(shape=(4,)), Dense(5, activation="tanh"), Dense(3)], backend="cpu", seed=2
    )
    plain = Sequential(
        [Dense(5, activation="tanh", input_shape=(4,)), Dense(3)], backend="cpu", seed=2
    )
    assert with_input.built and with_input.input_shape == (4,)
    assert [type(layer).__name__ for layer in with_input.layers] == ["Dense", "Dense"]
    assert with_input.get_config() == plain.get_config()
    for a, b in zip(with_input.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    images = Sequential(backend="cpu")
    images.add(Input((28, 28)))
    images.add(Flatten())
    images.add(Dense(2))
    assert images.built and images.input_shape == (28, 28) and images.count_params() == 784 * 2 + 2


def test_a_model_with_input_saves_and_loads(tmp_path):
    m = Sequential([Input(shape=(4,)), Dense(3, activation="softmax")], backend="cpu", seed=1)
    m.compile(loss="categorical_crossentropy")
    m.save(tmp_path / "m.netcore")
    loaded = nc.load_model(tmp_path / "m.netcore", backend="cpu")
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))


@pytest.mark.parametrize(
    "build,match",
    [
        (
            lambda: Sequential([Dense(3, input_shape=(4,)), Input(shape=(4,))]),
            r"must be the first element",
        ),
        (lambda: Sequential([Input(shape=(4,)), Input(shape=(4,))]), r"must be the first element"),
        (
            lambda: Sequential([Input(shape=(4,)), Dense(3, input_shape=(5,))]),
            r"Input\(shape=\(4,\)\) and the first layer's input_shape=\(5,\) disagree",
        ),
        (lambda: Input(shape=(0, 3)), r"shape must be a tuple of positive integers"),
    ],
)
def test_input_misuse_is_a_clear_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    "model,sample,hint",
    [
        (
            lambda: Sequential([Dense(3, input_shape=(784,))], backend="cpu"),
            np.zeros(784),
            r"x\[None\] \(shape \(1, 784\)\)",
        ),
        (
            lambda: Sequential([Flatten(input_shape=(28, 28)), Dense(3)], backend="cpu"),
            np.zeros((28, 28)),
            r"x\[None\] \(shape \(1, 28, 28\)\)",
        ),
    ],
)
def test_one_sample_without_a_batch_axis_is_told_to_add_one(model, sample, hint):
    m = model()
    m.compile(loss="mse")
    with pytest.raises(
        ValueError, match=r"one sample of the model's input shape .* without a batch axis.*" + hint
    ):
        m.predict(sample)
    with pytest.raises(ValueError, match=r"without a batch axis"):
        m.evaluate(sample, np.zeros(3))
    assert m.predict(sample[None]).shape == (1, 3)


@pytest.mark.parametrize(
    "loss,y",
    [
        ("categorical_crossentropy", Y),
        ("sparse_categorical_crossentropy", LABELS),
        ("binary_crossentropy", (Y > 0).astype(np.float32)),
    ],
)
def test_probability_loss_on_a_linear_last_layer_warns_once(loss, y):
    m = mlp(last="linear")
    m.compile(loss=loss)
    with pytest.warns(
        UserWarning,
        match=rf"loss='{loss}' expects probabilities, but the last layer "
        r"'dense_1' has activation='linear'.*use activation='(softmax|sigmoid)'",
    ):
        m.fit(X, y, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(X, y, verbose=0)  # said once per model


@pytest.mark.parametrize(
    "loss,last",
    [
        ("categorical_crossentropy", "softmax"),
        ("binary_crossentropy", "sigmoid"),
        ("mse", "linear"),
    ],
)
def test_losses_matching_their_output_do_not_warn(loss, last):
    m = mlp(last=last)
    m.compile(loss=loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(X, Y, verbose=0)


def test_unscaled_inputs_warn_once_with_the_scaling_advice():
    pixels = RNG.integers(0, 256, size=(30, 4)).astype(np.float32)
    m = mlp()
    m.compile(loss="categorical_crossentropy")
    with pytest.warns(
        UserWarning, match=r"x holds values from \d+ to 25\d, far outside \[-10, 10\].*x / 255"
    ) as rec:
        m.fit(pixels, Y, verbose=0)
    assert rec[0].filename == __file__  # points at the caller's fit line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(pixels, Y, verbose=0)
        m.fit(pixels / 255, Y, verbose=0)
    fresh = mlp()
    fresh.compile(loss="categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.fit(X * 10, Y, verbose=0)  # |x| up to ~30: not far outside
