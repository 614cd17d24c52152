"""An update that would write a NaN or inf is refused: the weights and the optimizer state stay
those of the last good step, and the step raises NonFiniteLossError saying the update (not the
loss) was at fault."""

import numpy as np
import pytest

import netcore as nc
from netcore.backend.base import NONFINITE_LOSS, NONFINITE_UPDATE
from netcore.backend.cpu import CPUBackend
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.optimizers import SGD, Adagrad, Adam, RMSprop
from netcore.training import EpochTracker

RNG = np.random.default_rng(0)
X = RNG.standard_normal((64, 4)).astype(np.float32)
Y = RNG.standard_normal((64, 1)).astype(np.float32)


def regressor(optimizer):
    m = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(1)], backend="cpu", seed=0)
    m.compile(optimizer=optimizer, loss="mse")
    return m


def all_finite(m):
    slots = [a for st in m.optimizer.state for a in st.values()]
    return all(np.isfinite(w).all() for w in m.get_weights() + [np.asarray(a) for a in slots])


def test_fit_with_a_diverging_adam_raises_naming_the_update_and_keeps_every_weight_finite():
    m = regressor(Adam(1e6))
    with pytest.raises(
        nc.NonFiniteLossError,
        match=r"update at epoch 1, step \d+ would have made "
        r"a weight NaN or inf",
    ) as exc:
        m.fit(X, Y, epochs=5, batch_size=8, verbose=0)
    assert exc.value.cause == "update" and np.isfinite(exc.value.value)
    assert all_finite(m)
    # the refused step and any after it are not counted
    assert m.optimizer.iterations == exc.value.step - 1


def test_the_weights_after_a_refused_update_are_those_of_the_last_good_step():
    m = regressor(Adam(1e6))
    with pytest.raises(nc.NonFiniteLossError) as exc:
        m.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    good = exc.value.step - 1
    assert good >= 1
    replay = regressor(Adam(1e6))
    for k in range(good):
        replay.train_on_batch(X[8 * k : 8 * (k + 1)], Y[8 * k : 8 * (k + 1)])
    for a, b in zip(m.get_weights(), replay.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_train_on_batch_with_a_diverging_update_raises_and_training_goes_on_after():
    m = regressor(Adam(1e6))
    initial = m.get_weights()
    with pytest.raises(nc.NonFiniteLossError, match="update") as exc:
        for _ in range(50):
            m.train_on_batch(X[:8], Y[:8])
    assert exc.value.cause == "update" and all_finite(m)
    before = m.optimizer.iterations
    # the flag was cleared: from sane weights, a sane step applies
    m.set_weights(initial)
    m.optimizer.learning_rate = 1e-3
    m.train_on_batch(X[:8], Y[:8])
    assert m.optimizer.iterations == before + 1 and all_finite(m)


def test_sgd_on_inputs_near_the_float32_limit_never_writes_a_nonfinite_weight():
    m = regressor(SGD(1e30))
    with pytest.raises(nc.NonFiniteLossError):
        for _ in range(5):
            m.train_on_batch(X * np.float32(1e30), Y)
    assert all_finite(m)


@pytest.mark.parametrize(
    "optimizer",
    [SGD(1e30, momentum=0.9), RMSprop(1e38), Adagrad(1e38), Adam(1e38)],
    ids=lambda o: o.name,
)
@pytest.mark.filterwarnings("ignore:x holds values:UserWarning")
def test_every_optimizer_refuses_an_update_that_overflows(optimizer):
    m = regressor(optimizer)
    with pytest.raises(nc.NonFiniteLossError):
        m.fit(X * 1e3, Y, epochs=3, batch_size=16, verbose=0)
    assert all_finite(m)


def test_tracker_reports_a_raised_update_flag_with_a_finite_loss_as_the_update():
    be = CPUBackend()
    skipped: list[int] = []
    t = EpochTracker(be, [], epoch=0, on_nonfinite=skipped.append)
    flags = [0, 0, NONFINITE_UPDATE, NONFINITE_UPDATE]
    for loss, flag in zip((1.0, 2.0, 3.0, 3.0), flags):
        t.record(np.float64(loss), [], 8, np.array([flag], dtype=np.int32))
    with pytest.raises(
        nc.NonFiniteLossError, match=r"update at epoch 1, step 3.*loss was 3.0"
    ) as exc:
        t.sync()
    assert exc.value.cause == "update" and skipped == [2]


def test_tracker_reports_a_nonfinite_loss_as_the_loss():
    be = CPUBackend()
    skipped: list[int] = []
    t = EpochTracker(be, [], epoch=0, on_nonfinite=skipped.append)
    t.record(np.float64(1.0), [], 8, np.array([0], dtype=np.int32))
    t.record(np.float64(np.inf), [], 8, np.array([NONFINITE_LOSS], dtype=np.int32))
    with pytest.raises(nc.NonFiniteLossError, match=r"loss became inf at epoch 1, step 2") as exc:
        t.sync()
    assert exc.value.cause == "loss" and skipped == [1]
