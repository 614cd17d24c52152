"""``trainable`` on layers and models (Keras 3): frozen layers keep their weights and get no
optimizer slots, the change takes effect at compile, summary counts both kinds, the saved
file keeps the flag; ``weights``, ``trainable_weights``, ``non_trainable_weights``,
``kernel`` and ``bias`` are arrays to read."""

import warnings

import numpy as np
import pytest

import netcore as nc
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.utils import to_categorical

RNG = np.random.default_rng(5)
X = RNG.normal(size=(24, 3))
Y = to_categorical((X[:, 0] + X[:, 2] > 0).astype(int), 2)


def three(seed=1):
    return Sequential(
        [
            Dense(4, activation="relu", input_shape=(3,)),
            Dense(4, activation="tanh"),
            Dense(2, activation="softmax"),
        ],
        backend="cpu",
        seed=seed,
        dtype="float64",
    )


def test_a_frozen_first_layer_trains_the_head_exactly_as_a_model_of_the_head_on_its_features():
    m = three()
    m.layers[0].trainable = False
    m.compile(optimizer=nc.optimizers.SGD(0.1), loss="categorical_crossentropy")
    w = m.get_weights()
    # independent reference: the two top layers alone, fed the frozen layer's features
    features = np.maximum(X @ w[0] + w[1], 0)
    head = Sequential(
        [Dense(4, activation="tanh", input_shape=(4,)), Dense(2, activation="softmax")],
        backend="cpu",
        dtype="float64",
    )
    head.set_weights(w[2:])
    head.compile(optimizer=nc.optimizers.SGD(0.1), loss="categorical_crossentropy")
    m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    head.fit(features, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    after = m.get_weights()
    np.testing.assert_array_equal(after[0], w[0])
    np.testing.assert_array_equal(after[1], w[1])
    for a, b in zip(after[2:], head.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert not np.allclose(after[4], w[4])


def test_a_frozen_middle_layer_keeps_its_weights_and_has_no_adam_slots():
    m = three()
    m.layers[1].trainable = False
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    w = m.get_weights()
    m.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    after = m.get_weights()
    np.testing.assert_array_equal(after[2], w[2])
    np.testing.assert_array_equal(after[3], w[3])
    assert not np.allclose(after[0], w[0]) and not np.allclose(after[4], w[4])
    trainable = sum(layer.count_params() for layer in m.layers if layer.trainable)
    assert m.optimizer.state[0]["m"].shape == (trainable,)
    # get_weights keeps layer order whatever the buffer's layout
    assert [a.shape for a in after] == [(3, 4), (4,), (4, 4), (4,), (4, 2), (2,)]


def test_changing_trainable_takes_effect_at_compile_and_warns_before():
    m = three()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    m.layers[2].trainable = False
    with pytest.warns(UserWarning, match="next model.compile"):
        m.train_on_batch(X, Y)
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    w = m.get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.train_on_batch(X, Y)
    after = m.get_weights()
    np.testing.assert_array_equal(after[4], w[4])
    assert not np.allclose(after[0], w[0])


def test_model_trainable_false_freezes_every_layer():
    m = three()
    m.trainable = False
    assert not any(layer.trainable for layer in m.layers) and not m.trainable
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    w = m.get_weights()
    m.fit(X, Y, epochs=1, verbose=0)
    for a, b in zip(m.get_weights(), w):
        np.testing.assert_array_equal(a, b)
    assert m.trainable_weights == [] and len(m.non_trainable_weights) == 6


def test_summary_counts_trainable_and_non_trainable_params():
    m = three()
    m.layers[0].trainable = False
    lines = []
    m.summary(print_fn=lines.append)
    assert "Total params: 46" in lines
    assert "Trainable params: 30" in lines
    assert "Non-trainable params: 16" in lines


def test_the_saved_file_keeps_trainable(tmp_path):
    m = three()
    m.layers[1].trainable = False
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    m.fit(X, Y, epochs=1, verbose=0)
    m.save(tmp_path / "m.netcore")
    back = nc.load_model(tmp_path / "m.netcore", backend="cpu")
    assert [layer.trainable for layer in back.layers] == [True, False, True]
    np.testing.assert_array_equal(back.optimizer.state[0]["m"], m.optimizer.state[0]["m"])
    w = back.get_weights()
    back.fit(X, Y, epochs=1, verbose=0)
    np.testing.assert_array_equal(back.get_weights()[2], w[2])


def test_adding_a_layer_keeps_the_optimizer_state_of_trainable_layers():
    m = Sequential(
        [Dense(4, activation="relu", input_shape=(3,)), Dense(4, activation="tanh")],
        backend="cpu",
        seed=3,
        dtype="float64",
    )
    m.layers[0].trainable = False
    m.compile(optimizer="adam", loss="mse")
    m.fit(X, X @ np.ones((3, 4)), epochs=1, verbose=0)
    before = m.optimizer.state[0]["m"].copy()
    m.add(Dense(2))
    assert m.optimizer.state[0]["m"].shape == (20 + 10,)
    np.testing.assert_array_equal(m.optimizer.state[0]["m"][:20], before)
    np.testing.assert_array_equal(m.optimizer.state[0]["m"][20:], 0)


def test_weights_kernel_and_bias_are_read_only_arrays_equal_to_get_weights():
    m = three()
    dense = m.layers[0]
    np.testing.assert_array_equal(dense.kernel, dense.get_weights()[0])
    np.testing.assert_array_equal(dense.bias, dense.get_weights()[1])
    assert isinstance(dense.kernel, np.ndarray) and dense.kernel.shape == (3, 4)
    with pytest.raises(ValueError):
        dense.kernel[0, 0] = 1.0  # read-only: assignment goes through set_weights
    for a, b in zip(m.weights, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(m.trainable_weights) == 6 and m.non_trainable_weights == []
    dense.trainable = False
    assert len(dense.non_trainable_weights) == 2 and dense.trainable_weights == []
    no_bias = Sequential([Dense(2, use_bias=False, input_shape=(3,))], backend="cpu")
    with pytest.raises(AttributeError, match="has no bias"):
        _ = no_bias.layers[0].bias


def test_trainable_must_be_a_bool():
    with pytest.raises(ValueError, match="trainable"):
        Dense(2).trainable = "no"


def test_a_frozen_batch_normalization_runs_in_inference_mode_and_its_gradient_is_exact():
    from helpers import numeric_grad

    from netcore.layers import BatchNormalization

    m = Sequential(
        [Dense(4, input_shape=(3,)), BatchNormalization(), Dense(2, activation="softmax")],
        backend="cpu",
        seed=2,
        dtype="float64",
    )
    bn = m.layers[1]
    bn.set_weights([np.full(4, 1.5), np.full(4, 0.1), np.full(4, 0.2), np.full(4, 2.0)])
    # the moving statistics are non-trainable weights whatever the flag
    assert len(bn.weights) == 4 and len(bn.trainable_weights) == 2
    np.testing.assert_array_equal(bn.non_trainable_weights[1], np.full(4, 2.0))
    lines = []
    m.summary(print_fn=lines.append)
    assert "Total params: 42" in lines and "Non-trainable params: 8" in lines
    bn.trainable = False
    assert len(bn.non_trainable_weights) == 4 and bn.trainable_weights == []
    assert len(m.trainable_weights) == 4 and len(m.non_trainable_weights) == 4
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    m.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    for a, b in zip(bn.get_weights(), [1.5, 0.1, 0.2, 2.0]):
        np.testing.assert_array_equal(a, np.full(4, b))  # gamma, beta and moving stats kept
    # training mode now normalizes with the moving statistics: the same output as inference
    be = m.backend
    np.testing.assert_allclose(m._forward(be.asarray(X), training=True), m.predict(X))
    kernel = m.layers[0].params["kernel"]

    def loss():
        out = m._forward(X, training=True)
        return -np.mean(np.log((out * Y).sum(1)))

    _, grad, _ = m._loss_and_metrics(X, Y, training=True)
    m._backward(grad)
    np.testing.assert_allclose(
        m.layers[0].grads["kernel"], numeric_grad(loss, kernel), rtol=1e-6, atol=1e-9
    )
