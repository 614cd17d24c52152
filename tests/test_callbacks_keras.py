"""The Keras 3 callbacks added for the course: LearningRateScheduler, ReduceLROnPlateau,
CSVLogger, LambdaCallback, TerminateOnNaN, BackupAndRestore."""

import csv

import numpy as np
import pytest

import netcore as nc
from netcore.callbacks import (
    BackupAndRestore,
    CSVLogger,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from netcore.layers import Dense, Dropout
from netcore.models import Sequential

X1, Y1 = np.array([[1.0]]), np.array([[1.0]])


def one_weight(lr=0.1):
    """y = w x with w = 0, MSE on one sample: each step is w <- w - lr * 2 (w - 1)."""
    m = Sequential([Dense(1, use_bias=False, input_shape=(1,))], backend="cpu", dtype="float64")
    m.set_weights([np.zeros((1, 1))])
    m.compile(optimizer=nc.optimizers.SGD(lr), loss="mse")
    return m


def test_learning_rate_scheduler_sets_each_epochs_rate_and_logs_it():
    m = one_weight()
    history = m.fit(
        X1, Y1, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: lr / 2)]
    )
    rates = [0.05, 0.025, 0.0125]
    assert history.history["learning_rate"] == pytest.approx(rates)
    w = 0.0
    for r in rates:
        w -= r * 2 * (w - 1.0)
    assert m.get_weights()[0][0, 0] == pytest.approx(w, rel=1e-12)


def test_learning_rate_scheduler_takes_a_function_of_the_epoch_alone(capsys):
    m = one_weight()
    m.fit(
        X1,
        Y1,
        epochs=2,
        verbose=0,
        callbacks=[LearningRateScheduler(lambda e: 0.5 ** (e + 1), verbose=1)],
    )
    assert m.optimizer.learning_rate == 0.25
    assert (
        "Epoch 2: LearningRateScheduler setting learning rate to 0.25." in capsys.readouterr().out
    )


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "fast"])
def test_a_scheduler_returning_a_bad_rate_raises_naming_it(bad):
    m = one_weight()
    with pytest.raises(ValueError, match="LearningRateScheduler: learning_rate must be"):
        m.fit(X1, Y1, epochs=1, verbose=0, callbacks=[LearningRateScheduler(lambda e: bad)])
    assert m.optimizer.learning_rate == 0.1


class FakeModel:
    def __init__(self, lr):
        self.optimizer = nc.optimizers.SGD(lr)
        self.stop_training = False


def drive(cb, losses, lr=0.1):
    model = FakeModel(lr)
    cb.set_model(model)
    cb.on_train_begin()
    rates = []
    for epoch, loss in enumerate(losses):
        cb.on_epoch_end(epoch, {"val_loss": loss})
        rates.append(model.optimizer.learning_rate)
    return rates


def test_reduce_lr_on_plateau_by_hand():
    # patience 1: every epoch without improvement halves the rate
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.0)
    assert drive(cb, [1, 1, 1, 0.5, 0.5]) == pytest.approx([0.1, 0.05, 0.025, 0.025, 0.0125])
    # patience 2, cooldown 1, floor at min_lr
    cb = ReduceLROnPlateau(factor=0.1, patience=2, cooldown=1, min_lr=0.002, min_delta=0.0)
    assert drive(cb, [1, 1, 1, 1, 1, 1, 1]) == pytest.approx(
        [
            0.1,
            0.1,
            0.01,
            0.01,
            0.002,
            0.002,
            0.002,
        ]  # Keras: cooldown ends in the epoch it counts down
    )
    # min_delta: an improvement smaller than it does not count
    cb = ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.1)
    assert drive(cb, [1.0, 0.95]) == pytest.approx([0.1, 0.05])
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.5)


def test_csv_logger_writes_the_history_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    m = one_weight()
    h = m.fit(X1, Y1, epochs=2, verbose=0, validation_data=(X1, Y1), callbacks=[CSVLogger(path)])
    m.fit(
        X1,
        Y1,
        epochs=1,
        verbose=0,
        validation_data=(X1, Y1),
        callbacks=[CSVLogger(path, append=True)],
    )
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1, 0]
    assert [float(r[1]) for r in rows[1:3]] == h.history["loss"]
    assert [float(r[2]) for r in rows[1:3]] == h.history["val_loss"]


def test_lambda_callback_calls_epoch_and_batch_functions():
    calls = []
    cb = LambdaCallback(
        on_epoch_end=lambda epoch, logs: calls.append(("epoch", epoch, logs["loss"])),
        on_batch_end=lambda batch, logs: calls.append(("batch", batch, logs["loss"])),
        on_train_begin=lambda logs: calls.append(("begin",)),
    )
    m = one_weight()
    x, y = np.ones((5, 1)), np.ones((5, 1))
    h = m.fit(x, y, batch_size=2, epochs=2, verbose=0, shuffle=False, callbacks=[cb])
    assert calls[0] == ("begin",)
    assert [c[:2] for c in calls[1:]] == [
        ("batch", 0),
        ("batch", 1),
        ("batch", 2),
        ("epoch", 0),
        ("batch", 0),
        ("batch", 1),
        ("batch", 2),
        ("epoch", 1),
    ]
    assert calls[4][2] == h.history["loss"][0] == calls[3][2]  # last batch's running mean
    with pytest.raises(TypeError, match="on_epoch_ending"):
        LambdaCallback(on_epoch_ending=print)


def diverging():
    m = Sequential([Dense(1, input_shape=(1,))], backend="cpu", seed=0)
    m.compile(optimizer=nc.optimizers.SGD(1e30), loss="mse")
    return m


def test_terminate_on_nan_stops_quietly_and_keeps_the_last_good_weights(capsys):
    x, y = np.linspace(1, 2, 8)[:, None], np.ones((8, 1))
    with pytest.raises(nc.NonFiniteLossError):
        diverging().fit(x, y, epochs=3, batch_size=4, verbose=0)
    m = diverging()
    h = m.fit(x, y, epochs=3, batch_size=4, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(h.epoch) < 3 and "terminating training" in capsys.readouterr().out
    assert all(np.isfinite(w).all() for w in m.get_weights())


class Interrupt(Exception):
    pass


def model_with_dropout():
    m = Sequential(
        [Dense(6, activation="relu", input_shape=(3,)), Dropout(0.3), Dense(2)],
        backend="cpu",
        seed=7,
    )
    m.compile(optimizer="adam", loss="mse")
    return m


def test_backup_and_restore_resumes_an_interrupted_fit_bit_for_bit(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 2))
    whole = model_with_dropout()
    whole.fit(x, y, epochs=4, batch_size=5, verbose=0)

    def stop_after_second(epoch, logs):
        if epoch == 1:
            raise Interrupt

    backup = tmp_path / "backup"
    first = model_with_dropout()
    with pytest.raises(Interrupt):
        first.fit(
            x,
            y,
            epochs=4,
            batch_size=5,
            verbose=0,
            callbacks=[BackupAndRestore(backup), LambdaCallback(on_epoch_end=stop_after_second)],
        )
    assert (backup / "training.json").exists() and (backup / "epoch-2.netcore").exists()
    resumed = model_with_dropout()  # a new process would build the model again
    h = resumed.fit(x, y, epochs=4, batch_size=5, verbose=0, callbacks=[BackupAndRestore(backup)])
    assert h.epoch == [2, 3]
    for a, b in zip(resumed.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert resumed.optimizer.iterations == whole.optimizer.iterations
    assert not backup.exists()  # deleted when fit ends normally


def test_backup_and_restore_refuses_per_batch_saves():
    with pytest.raises(ValueError, match="save_freq must be 'epoch'"):
        BackupAndRestore("b", save_freq=10)
