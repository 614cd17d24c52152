"""The trainer apart from the model: its seams, the epoch tracker's interface, capabilities
read as attributes (not backend names or layer classes), and building from a config."""

import numpy as np
import pytest

import netcore as nc
from netcore.backend.base import NONFINITE_UPDATE, Backend
from netcore.backend.cpu import CPUBackend
from netcore.layers import Activation, Dense, Dropout, Flatten, Layer
from netcore.metrics import CategoricalAccuracy
from netcore.models import Sequential
from netcore.training import EpochTracker, Trainer
from netcore.training import tracker as tracker_mod
from netcore.utils import to_categorical

RNG = np.random.default_rng(3)
X = RNG.normal(size=(40, 6)).astype(np.float32)
Y = to_categorical((X[:, 0] > 0).astype(int), 2)


def mlp(**kw):
    return Sequential(
        [Dense(8, activation="relu", input_shape=(6,)), Dense(2, activation="softmax")],
        backend="cpu",
        seed=0,
        **kw,
    )


def test_training_methods_live_in_the_trainer_not_in_the_model():
    import netcore.models as models

    for name in ("compile", "fit", "evaluate", "predict", "train_on_batch"):
        assert getattr(Sequential, name) is getattr(Trainer, name)
        assert name not in vars(models.Sequential)
    assert issubclass(Sequential, Trainer)


def test_capabilities_are_attributes():
    assert Backend.host_reads_are_cheap is False and CPUBackend.host_reads_are_cheap is True
    assert Layer.can_emit_logits is False
    assert Dense.can_emit_logits is True and Activation.can_emit_logits is True
    assert Flatten.can_emit_logits is False and Dropout.can_emit_logits is False


@pytest.mark.parametrize("cheap,syncs", [(True, 5 + 1), (False, 1)])
def test_the_loss_is_read_every_step_only_where_host_reads_are_cheap(monkeypatch, cheap, syncs):
    m = mlp()
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    monkeypatch.setattr(m.backend, "host_reads_are_cheap", cheap)
    calls = []
    real = tracker_mod.EpochTracker.sync

    def counted(self):
        calls.append(1)
        return real(self)

    monkeypatch.setattr(tracker_mod.EpochTracker, "sync", counted)
    m.fit(X, Y, epochs=1, batch_size=8, verbose=0)  # 5 steps, no progress bar (not a terminal)
    assert len(calls) == syncs


class SoftmaxHead(Layer):
    """A stand-in layer with an activation that can hand its logits to the loss."""

    can_emit_logits = True
    activation = "softmax"

    def forward(self, x, training=False, logits=False):
        self.seen_logits = logits
        return x if logits else self.backend.softmax(x.copy())

    def backward(self, dy, need_dx=True):
        return dy


def test_the_loss_takes_logits_from_any_layer_that_can_emit_them():
    m = Sequential([Dense(2, input_shape=(6,)), SoftmaxHead()], backend="cpu", seed=0)
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert m._loss_takes_logits
    m.fit(X, Y, epochs=1, verbose=0)
    head = m.layers[-1]
    assert isinstance(head, SoftmaxHead)
    assert head.seen_logits is True  # the loss applied the softmax
    p = m.predict(X)
    assert head.seen_logits is False  # predict asks for probabilities
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    relu = Sequential([Dense(2, activation="relu", input_shape=(6,))], backend="cpu")
    relu.compile(loss="categorical_crossentropy")
    assert not relu._loss_takes_logits
    flat_last = Sequential(
        [Dense(2, activation="softmax", input_shape=(6,)), Flatten()], backend="cpu"
    )
    flat_last.compile(loss="categorical_crossentropy")
    assert not flat_last._loss_takes_logits


def test_tracker_hands_the_skipped_step_count_to_its_owner_and_raises():
    be = CPUBackend()
    skipped: list[int] = []
    t = EpochTracker(be, [], epoch=4, on_nonfinite=skipped.append)
    for loss in (1.0, 2.0, np.nan, 3.0, 4.0):
        t.record(np.float64(loss), [], 10)
    with pytest.raises(nc.NonFiniteLossError, match=r"epoch 5, step 3") as exc:
        t.sync()
    assert exc.value.value != exc.value.value  # NaN
    assert skipped == [3]  # steps 3, 4 and 5 were no-ops on the device


def test_tracker_means_are_weighted_by_batch_size_and_inference_reports_nan():
    be = CPUBackend()
    acc = CategoricalAccuracy()
    t = EpochTracker(be, [acc])
    t.record(np.float64(1.0), [np.int64(3)], 4)
    t.record(np.float64(4.0), [np.int64(1)], 2)
    t.sync()
    assert t.logs() == {
        "loss": pytest.approx((4 * 1.0 + 2 * 4.0) / 6),
        "accuracy": pytest.approx(4 / 6),
    }
    inference = EpochTracker(be, [])
    inference.record(np.float64(np.inf), [], 3)
    inference.sync()
    assert inference.logs() == {"loss": np.inf}


@pytest.mark.parametrize("cheap", [True, False])
def test_tracker_reads_the_same_totals_one_by_one_or_stacked(cheap):
    """Host backends read each value; device backends stack them into one transfer."""
    be = CPUBackend()
    be.host_reads_are_cheap = cheap
    acc = CategoricalAccuracy()
    flag = np.zeros(1, dtype=np.int32)
    t = EpochTracker(be, [acc], on_nonfinite=lambda k: None)
    t.record(np.array(1.0, np.float32), [np.int64(3)], 4, flag.copy())
    t.record(np.array(4.0, np.float32), [np.float32(1.5)], 2, flag.copy(), np.float32(2.5))
    t.sync()
    assert t.logs() == {
        "loss": pytest.approx((4 * 1.0 + 2 * 4.0) / 6),
        "accuracy": pytest.approx((3 + 1.5) / (4 + 2.5)),
    }
    flag[0] = NONFINITE_UPDATE
    t.record(np.array(2.0, np.float32), [np.int64(0)], 4, flag.copy())
    with pytest.raises(nc.NonFiniteLossError, match=r"step 3") as exc:
        t.sync()
    assert exc.value.cause == "update"


def test_a_nonfinite_step_is_taken_back_from_the_optimizer_step_count():
    m = mlp()
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    m.train_on_batch(X, Y)
    real = m._train_step

    def poisoned(xb, yb, sample_weight=None):
        xb = xb.copy()
        xb[0, 0] = np.inf
        return real(xb, yb, sample_weight)

    m._train_step = poisoned
    with pytest.raises(nc.NonFiniteLossError):
        m.train_on_batch(X, Y)
    assert m.optimizer.iterations == 1
    del m._train_step
    m.train_on_batch(X, Y)  # the flag was cleared: this step applies
    assert m.optimizer.iterations == 2


def test_from_config_builds_the_same_architecture_with_the_same_initial_weights():
    m = Sequential(
        [
            Flatten(input_shape=(2, 3)),
            Dense(5, activation="tanh"),
            Dropout(0.2),
            Dense(2, activation="softmax", use_bias=False),
        ],
        backend="cpu",
        seed=9,
        name="net",
    )
    again = Sequential.from_config(m.get_config(), backend="cpu")
    assert again.get_config() == m.get_config()
    assert again.built and again.input_shape == (2, 3)
    for a, b in zip(again.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "config,match",
    [
        ([], r"config must be a dict with a 'layers' list"),
        (
            {"layers": [{"class": "LSTM", "config": {}}]},
            r"config layers must be \{'class': one of \[",
        ),
    ],
)
def test_from_config_refuses_what_get_config_never_returns(config, match):
    with pytest.raises(ValueError, match=match):
        Sequential.from_config(config)
