"""The course's linear model y = m x + b on (1, 3), (2, 5), from m = -1, b = 5, exactly."""

import numpy as np
import pytest

from netcore import losses
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.optimizers import SGD

X = np.array([[1.0], [2.0]])
Y = np.array([[3.0], [5.0]])


def course_model(lr=0.1, loss="mse"):
    m = Sequential([Dense(1, input_shape=(1,))], backend="cpu", seed=0, dtype="float64")
    m.set_weights([np.array([[-1.0]]), np.array([5.0])])
    m.compile(optimizer=SGD(learning_rate=lr), loss=loss)
    return m


def test_predictions_and_losses():
    m = course_model()
    np.testing.assert_allclose(m.predict(X), [[4.0], [3.0]])
    assert m.evaluate(X, Y) == pytest.approx(2.5)
    assert losses.mse(Y, m.predict(X)) == pytest.approx(2.5)
    assert losses.rmse(Y, m.predict(X)) == pytest.approx(1.5811, abs=1e-4)
    assert course_model(loss="rmse").evaluate(X, Y) == pytest.approx(np.sqrt(2.5))


def test_gradients_are_minus_3_and_minus_1():
    m = course_model()
    xd = m.backend.asarray(X)
    yd = m.backend.asarray(Y)
    _, grad, _ = m._loss_and_metrics(xd, yd, training=True)
    m._backward(grad)
    dm, db = (float(np.ravel(layer.grads[k])[0]) for layer in m.layers for k in layer.params)
    assert dm == pytest.approx(-3.0)
    assert db == pytest.approx(-1.0)


def test_one_sgd_step_gives_m_minus_0_7_b_5_1():
    m = course_model(lr=0.1)
    out = m.train_on_batch(X, Y)
    assert out["loss"] == pytest.approx(2.5)  # the loss before the step
    w, b = m.get_weights()
    assert w[0, 0] == pytest.approx(-0.7)
    assert b[0] == pytest.approx(5.1)
    assert m.evaluate(X, Y) < 2.5


def test_fit_one_epoch_full_batch_is_the_same_step():
    m = course_model(lr=0.1)
    m.fit(X, Y, epochs=1, batch_size=2, verbose=0, shuffle=False)
    w, b = m.get_weights()
    assert (w[0, 0], b[0]) == (pytest.approx(-0.7), pytest.approx(5.1))


def test_learning_rate_2_overshoots():
    m = course_model(lr=2.0)
    history = m.fit(X, Y, epochs=4, batch_size=2, verbose=0, shuffle=False)
    losses_ = history.history["loss"]
    assert all(b > a for a, b in zip(losses_, losses_[1:])), losses_
