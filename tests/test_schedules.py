"""Learning-rate schedules against Keras 3's published values
(``keras/src/optimizers/schedules/learning_rate_schedule_test.py``), as an optimizer's
``learning_rate``, per step, saved with the model; and ``learning_rate`` assignment checks."""

import math

import numpy as np
import pytest

import netcore as nc
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.optimizers import schedules

S = schedules


# --- values from Keras' tests (the test each comes from is named) ---------------------------
def test_exponential_decay_continuous_and_staircase():  # ExponentialDecayTest
    assert S.ExponentialDecay(0.05, 10, 0.96)(5) == pytest.approx(0.05 * 0.96 ** (5.0 / 10.0))
    staircase = S.ExponentialDecay(0.1, 3, 0.96, staircase=True)
    assert staircase(1) == pytest.approx(0.1) and staircase(2) == pytest.approx(0.1)
    assert staircase(100) == pytest.approx(0.1 * 0.96 ** (100 // 3))


def test_piecewise_constant_values_at_and_between_boundaries():  # PiecewiseConstantDecayTest
    lr = S.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001])
    for step, want in [(-999, 1.0), (100, 1.0), (105, 0.1), (110, 0.1), (120, 0.01), (999, 0.001)]:
        assert lr(step) == pytest.approx(want)
    lr = S.PiecewiseConstantDecay([1, 2, 3], [0.4, 0.5, 0.6, 0.7])  # test_boundary_values
    assert [lr(s) for s in range(5)] == pytest.approx([0.4, 0.4, 0.5, 0.6, 0.7])


def test_inverse_time_decay_and_staircase():  # InverseTimeDecayTest
    k, rate = 10, 0.96
    smooth = S.InverseTimeDecay(0.1, k, rate)
    stairs = S.InverseTimeDecay(0.1, k, rate, staircase=True)
    for i in range(k + 1):
        assert smooth(i) == pytest.approx(0.1 / (1 + i / k * rate))
        assert stairs(i) == pytest.approx(0.1 / (1 + rate * (i // k)))


def _np_cosine(step, decay_steps, alpha=0.0):  # Keras' np_cosine_decay
    step = min(step, decay_steps)
    return (1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * step / decay_steps)) + alpha


def test_cosine_decay_alpha_warmup_and_warmup_then_decay():  # CosineDecayTest
    for step in range(0, 1500, 250):
        assert S.CosineDecay(1.0, 1000)(step) == pytest.approx(_np_cosine(step, 1000))
        assert S.CosineDecay(1.0, 1000, 0.1)(step) == pytest.approx(_np_cosine(step, 1000, 0.1))
        warm = S.CosineDecay(0.0, 10, warmup_target=10.0, warmup_steps=1500)
        assert warm(step) == pytest.approx(step / 1500 * 10.0)
    for step in range(0, 3000, 250):
        lr = S.CosineDecay(0.0, 1000, warmup_target=10.0, warmup_steps=2000)
        want = step / 2000 * 10.0 if step < 2001 else 10.0 * _np_cosine(step - 2000, 1000)
        assert lr(step) == pytest.approx(want)


def test_keras_fit_with_adam_and_exponential_decay_gives_keras_losses():
    """TestFitLRSchedulesFlow.test_fit_lr_correctness: Keras' own losses for this run."""
    model = Sequential(
        [Dense(2, kernel_initializer="ones", bias_initializer="ones", input_shape=(2,))],
        backend="cpu",
    )
    opt = nc.optimizers.Adam(learning_rate=S.ExponentialDecay(0.05, 1, 0.9))
    model.compile(optimizer=opt, loss="mse")
    x = np.arange(32).reshape((16, 2)).astype("float32")
    history = model.fit(x, x, epochs=3, batch_size=4, shuffle=False, verbose=0)
    assert opt.iterations == 12
    np.testing.assert_allclose(
        history.history["loss"],
        [230.79457092285156, 128.30319213867188, 79.33648681640625],
        rtol=5e-5,
    )


# --- netcore's side ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "schedule",
    [
        S.ExponentialDecay(0.1, 3, 0.5, staircase=True),
        S.PiecewiseConstantDecay([2, 5], [0.3, 0.2, 0.1]),
        S.CosineDecay(0.01, 7, alpha=0.1, warmup_target=0.2, warmup_steps=3),
        S.InverseTimeDecay(0.1, 2, 0.5),
    ],
)
def test_rates_table_equals_the_schedule_step_by_step(schedule):
    table = schedule.rates(4, 9)
    assert table.dtype == np.float64 and table.shape == (9,)
    assert list(table) == [schedule(4 + i) for i in range(9)]
    back = S.deserialize(S.serialize(schedule))
    assert type(back) is type(schedule) and list(back.rates(0, 12)) == list(schedule.rates(0, 12))


def test_sgd_takes_the_schedule_value_of_each_step():
    """SGD's update t uses schedule(t - 1): w_t = w_{t-1} - lr_t g, checked by hand for MSE."""
    model = Sequential([Dense(1, use_bias=False, input_shape=(1,))], backend="cpu", dtype="float64")
    model.set_weights([np.array([[0.0]])])
    lr = S.PiecewiseConstantDecay([0], [0.1, 0.01])  # step 0: 0.1, later 0.01
    model.compile(optimizer=nc.optimizers.SGD(lr), loss="mse")
    x, y = np.array([[1.0]]), np.array([[1.0]])
    w = 0.0
    for rate in (0.1, 0.01, 0.01):
        model.train_on_batch(x, y)
        w -= rate * 2 * (w - 1.0)
        assert model.get_weights()[0][0, 0] == pytest.approx(w, rel=1e-12)
    assert model.optimizer is not None
    assert model.optimizer.learning_rate == pytest.approx(0.01)


def test_a_schedule_is_saved_with_the_model(tmp_path):
    model = Sequential([Dense(2, input_shape=(2,))], backend="cpu", seed=0)
    cosine = S.CosineDecay(0.01, 100, warmup_target=0.1, warmup_steps=10)
    model.compile(optimizer=nc.optimizers.RMSprop(cosine), loss="mse")
    model.fit(np.ones((8, 2)), np.ones((8, 2)), batch_size=2, verbose=0)
    model.save(tmp_path / "m.netcore")
    back = nc.load_model(tmp_path / "m.netcore", backend="cpu")
    assert back.optimizer is not None and model.optimizer is not None
    assert back.optimizer.get_config() == model.optimizer.get_config()
    assert back.optimizer.learning_rate == cosine(4) == model.optimizer.learning_rate


@pytest.mark.parametrize("bad", [-0.1, 0.0, float("nan"), float("inf"), "0.1", None, [0.1]])
def test_assigning_a_bad_learning_rate_raises_at_once_naming_it(bad):
    opt = nc.optimizers.Adam()
    with pytest.raises(ValueError, match=r"learning_rate .*received"):
        opt.learning_rate = bad
    assert opt.learning_rate == 0.001


def test_assigning_a_good_rate_or_a_schedule_is_accepted():
    opt = nc.optimizers.SGD()
    opt.learning_rate = np.float32(0.5)
    assert opt.learning_rate == 0.5
    opt.learning_rate = S.ExponentialDecay(1.0, 1, 0.5)
    assert opt.learning_rate == 1.0 and opt.schedule is not None
    with pytest.raises(TypeError, match="learning_rate is the schedule"):
        opt.learning_rate = 0.1


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: S.ExponentialDecay(0.1, 0, 0.9), "decay_steps"),
        (lambda: S.PiecewiseConstantDecay([1, 2], [0.1]), "one element fewer"),
        (lambda: S.PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3]), "must increase"),
        (lambda: S.CosineDecay(float("nan"), 10), "initial_learning_rate"),
    ],
)
def test_bad_schedule_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_the_captured_step_rate_table_follows_the_schedule():
    """capture.step_rates fills the per-epoch table the CUDA graph reads at the device step
    counter: with a schedule, entry c is schedule(t - 1), times Adam's bias correction for
    Adam."""
    from netcore.training import capture

    sched = S.ExponentialDecay(0.05, 2, 0.5)
    table = capture.step_rates(nc.optimizers.Adam(sched), 5, 4, np.float64)
    want = [sched(t - 1) * math.sqrt(1 - 0.999**t) / (1 - 0.9**t) for t in range(5, 9)]
    np.testing.assert_allclose(table, want, rtol=1e-15)
    for opt in (
        nc.optimizers.SGD(sched),
        nc.optimizers.RMSprop(sched),
        nc.optimizers.Adagrad(sched),
    ):
        table = capture.step_rates(opt, 5, 4, np.float64)
        np.testing.assert_allclose(table, [0.05 * 0.5 ** ((t - 1) / 2) for t in range(5, 9)])
