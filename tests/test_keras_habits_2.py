"""Keras habits on the model: ``model(x)``, ``predict_on_batch``,
``test_on_batch``, ``metrics_names``, ``pop``, ``to_json``/``model_from_json``,
``save_weights``/``load_weights`` and Keras file names refused by ``save``."""

import json

import numpy as np
import pytest

from netcore.layers import Dense, Dropout
from netcore.models import Sequential, model_from_json
from netcore.utils import to_categorical

RNG = np.random.default_rng(3)
X = RNG.normal(size=(10, 4))
Y = to_categorical((X[:, 0] > 0).astype(int), 2)


def mlp(seed=0, hidden=5):
    return Sequential(
        [
            Dense(hidden, activation="tanh", input_shape=(4,)),
            Dropout(0.5),
            Dense(2, activation="softmax"),
        ],
        backend="cpu",
        seed=seed,
        dtype="float64",
    )


def numpy_forward(m, x):
    w1, b1, w2, b2 = m.get_weights()
    z = np.tanh(x @ w1 + b1) @ w2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def test_calling_the_model_is_inference_and_equals_a_numpy_forward_pass():
    m = mlp()
    np.testing.assert_allclose(m(X), numpy_forward(m, X), rtol=1e-12)
    np.testing.assert_allclose(m.predict_on_batch(X), numpy_forward(m, X), rtol=1e-12)


def test_calling_with_training_true_applies_dropout_without_changing_weights():
    m = mlp()
    w = m.get_weights()
    out = m(X, training=True)
    assert out.shape == (10, 2) and not np.allclose(out, numpy_forward(m, X))
    np.testing.assert_allclose(out.sum(1), 1.0)
    for a, b in zip(m.get_weights(), w):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="training"):
        m(X, training="yes")


def test_test_on_batch_and_metrics_names_follow_evaluate():
    m = mlp()
    assert m.metrics_names == []
    m.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    assert m.metrics_names == ["loss", "accuracy"]
    p = numpy_forward(m, X)
    loss, acc = m.test_on_batch(X, Y)
    assert loss == pytest.approx(-np.mean(np.log((p * Y).sum(1))), rel=1e-12)
    assert acc == pytest.approx(np.mean(p.argmax(1) == Y.argmax(1)))
    assert m.test_on_batch(X, Y, return_dict=True) == {"loss": loss, "accuracy": acc}


def test_pop_removes_the_last_layer_and_keeps_the_others_weights():
    m = mlp()
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    m.fit(X, Y, epochs=1, verbose=0)
    w = m.get_weights()
    last = m.pop()
    assert last.name == "dense_1" and len(m.layers) == 2 and m.output_shape == (5,)
    for a, b in zip(m.get_weights(), w[:2]):
        np.testing.assert_array_equal(a, b)
    m.add(Dense(3, activation="softmax"))
    np.testing.assert_array_equal(m.get_weights()[0], w[0])
    m.pop(), m.pop(), m.pop()
    with pytest.raises(ValueError, match="no layers"):
        m.pop()


def test_to_json_round_trips_the_architecture_and_trainable():
    m = mlp(seed=4)
    m.layers[0].trainable = False
    text = m.to_json()
    assert json.loads(text)["class_name"] == "Sequential"
    back = model_from_json(text, backend="cpu")
    assert back.get_config() == m.get_config()
    assert [layer.trainable for layer in back.layers] == [False, True, True]
    for a, b in zip(back.get_weights(), m.get_weights()):  # same seed: same initial weights
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="to_json"):
        model_from_json('{"layers": []}')
    with pytest.raises(ValueError, match="not JSON"):
        model_from_json("{nope")


def test_save_weights_and_load_weights_round_trip(tmp_path):
    m = mlp(seed=1)
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    m.fit(X, Y, epochs=2, verbose=0)
    path = tmp_path / "m.weights.netcore"
    m.save_weights(path)
    other = mlp(seed=2)
    other.load_weights(path)
    for a, b in zip(other.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(other.predict(X), m.predict(X))


def test_load_weights_into_another_architecture_names_the_difference(tmp_path):
    path = tmp_path / "m.weights.netcore"
    mlp(hidden=5).save_weights(path)
    with pytest.raises(ValueError, match=r"dense.kernel has shape \(4, 6\) in the model"):
        mlp(hidden=6).load_weights(path)
    short = Sequential([Dense(2, input_shape=(4,))], backend="cpu", dtype="float64")
    with pytest.raises(ValueError, match="another architecture: the file's layers"):
        short.load_weights(path)


@pytest.mark.parametrize("name", ["w.h5", "w.weights.h5", "w.netcore", "w.weights"])
def test_weights_file_names_must_end_in_weights_netcore(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.weights\.netcore"):
        mlp().save_weights(tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("name", ["m.h5", "m.keras", "M.HDF5"])
def test_save_refuses_keras_file_names_and_names_the_netcore_suffix(tmp_path, name):
    with pytest.raises(ValueError, match=r"netcore writes its own format.*'\*\.netcore'"):
        mlp().save(tmp_path / name)
    assert not (tmp_path / name).exists()
