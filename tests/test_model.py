"""Sequential: training semantics, history, callbacks, NaN stop, determinism, save/load."""

import os
import zipfile

import numpy as np
import pytest

import netcore as nc
from netcore.callbacks import Callback, EarlyStopping, ModelCheckpoint
from netcore.layers import Dense, Dropout, Flatten, Layer
from netcore.models import Sequential
from netcore.utils import to_categorical


def data(n=90, d=6, c=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = to_categorical((x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5), c)
    return x, y


def mlp(seed=0, dropout=0.0, **kw):
    layers: list[Layer] = [Dense(16, activation="relu", input_shape=(6,))]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(3, activation="softmax"))
    m = Sequential(layers, backend="cpu", seed=seed, **kw)
    return m


class StepCounter(Callback):
    def on_train_begin(self, logs=None):
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, self.model.optimizer.iterations))


def test_steps_per_epoch_use_the_last_short_batch():
    x, y = data(n=90)
    m = mlp()
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    cb = StepCounter()
    h = m.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[cb])
    assert cb.epochs == [(0, 3), (1, 6)]  # ceil(90 / 32) = 3 steps per epoch
    assert h.params["steps"] == 3 and h.epoch == [0, 1]
    assert set(h.history) == {"loss", "accuracy"}


def test_history_is_the_mean_weighted_by_batch_size():
    x, y = data(n=50)
    m = mlp()
    m.compile(
        optimizer=nc.optimizers.SGD(learning_rate=1e-12),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    h = m.fit(x, y, epochs=1, batch_size=32, verbose=0, shuffle=False)
    # with a negligible learning rate the weights stay put, so the epoch loss must equal
    # (32 * loss(batch 1) + 18 * loss(batch 2)) / 50, which equals the full-data loss
    full = m.evaluate(x, y, batch_size=50, return_dict=True)
    assert h.history["loss"][0] == pytest.approx(full["loss"], rel=1e-5)
    assert h.history["accuracy"][0] == pytest.approx(full["accuracy"])


def test_learns_and_validation_keys():
    x, y = data(n=400)
    m = mlp()
    m.compile(
        optimizer=nc.optimizers.Adam(learning_rate=0.01),
        loss="categorical_crossentropy",
        metrics=["accuracy", "mse"],
    )
    h = m.fit(x, y, epochs=20, batch_size=32, verbose=0, validation_split=0.25)
    assert set(h.history) == {"loss", "accuracy", "mse", "val_loss", "val_accuracy", "val_mse"}
    assert h.history["loss"][-1] < h.history["loss"][0] * 0.7
    assert h.history["val_accuracy"][-1] > 0.8
    ev = m.evaluate(x[300:], y[300:], return_dict=True)
    assert ev["loss"] == pytest.approx(h.history["val_loss"][-1], rel=1e-5)


def test_sparse_and_binary_heads_and_metrics():
    x, y = data(n=200)
    labels = y.argmax(1)
    m = mlp()
    m.compile(
        optimizer=nc.optimizers.Adam(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    m.fit(x, labels, epochs=20, verbose=0)
    _, accuracy = m.evaluate(x, labels)
    assert accuracy > 0.8
    b = Sequential(
        [Dense(8, activation="tanh", input_shape=(6,)), Dense(1, activation="sigmoid")],
        backend="cpu",
        seed=1,
    )
    b.compile(
        optimizer=nc.optimizers.Adam(learning_rate=0.01),
        loss="binary_crossentropy",
        metrics=["accuracy", "mae", "rmse"],
    )
    yb = (x[:, 0] > 0).astype(np.float32)
    h = b.fit(x, yb, epochs=20, verbose=0)
    assert h.history["accuracy"][-1] > 0.85
    p = b.predict(x)
    assert p.shape == (200, 1) and np.all((p > 0) & (p < 1))


def test_predict_is_host_numpy_and_not_a_reused_buffer():
    x, y = data()
    m = mlp()
    p1 = m.predict(x[:10])
    p2 = m.predict(x[10:20])
    assert isinstance(p1, np.ndarray) and p1.dtype == np.float32
    np.testing.assert_allclose(p1.sum(1), 1, rtol=1e-5)
    assert not np.shares_memory(p1, p2)
    np.testing.assert_allclose(m.predict(x[:10], batch_size=3), p1, rtol=1e-6)


def test_inputs_cast_once_to_float32_and_float64_mode():
    x, y = data()
    m = mlp()
    m.compile(loss="categorical_crossentropy")
    m.fit(x.astype(np.float64) / 1.0, y, verbose=0)  # float64 input (like x / 255)
    assert all(w.dtype == np.float32 for w in m.get_weights())
    m64 = mlp(dtype="float64")
    assert all(w.dtype == np.float64 for w in m64.get_weights())


def test_determinism_same_seed_bit_identical():
    x, y = data()
    runs = []
    for _ in range(2):
        m = mlp(seed=7, dropout=0.3)
        m.compile(optimizer="adam", loss="categorical_crossentropy")
        h = m.fit(x, y, epochs=3, batch_size=16, verbose=0)
        runs.append((m.get_weights(), h.history["loss"]))
    for a, b in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == runs[1][1]
    other = mlp(seed=8)
    assert not np.array_equal(other.get_weights()[0], mlp(seed=7).get_weights()[0])


@pytest.mark.filterwarnings("error::RuntimeWarning")  # reported as one clear error, no warnings
def test_nan_loss_stops_with_epoch_and_step_and_keeps_last_good_weights():
    x, y = data(n=64)
    m = mlp()
    m.compile(optimizer=nc.optimizers.SGD(learning_rate=0.01), loss="categorical_crossentropy")

    m.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    good = m.get_weights()
    it = m.optimizer.iterations
    # Inject NaN into the data path of step 2 only: poison one row of the second batch
    # after validation (fit checks inputs), by monkeypatching the train step.
    calls = {"n": 0}
    real = m._train_step

    def step(xb, yb, sample_weight=None):
        calls["n"] += 1
        if calls["n"] == 2:
            xb = xb.copy()
            xb[0, 0] = np.inf
        return real(xb, yb, sample_weight)

    m._train_step = step
    with pytest.raises(nc.NonFiniteLossError, match=r"epoch 2, step 2") as exc:
        m.fit(x, y, epochs=2, initial_epoch=1, batch_size=16, verbose=0, shuffle=False)
    assert exc.value.epoch == 2 and exc.value.step == 2
    after = m.get_weights()
    # exactly one good step (step 1 of epoch 2) was applied after `good`
    assert m.optimizer.iterations == it + 1
    assert all(np.all(np.isfinite(w)) for w in after)
    assert any(not np.array_equal(a, b) for a, b in zip(after, good))
    # and training can go on from there
    del m._train_step
    m.fit(x, y, epochs=1, verbose=0)


def test_early_stopping_restores_best_weights():
    x, y = data(n=200)
    m = mlp()
    m.compile(optimizer=nc.optimizers.SGD(learning_rate=5.0), loss="categorical_crossentropy")

    snapshots = {}

    class Snap(Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = (logs["val_loss"], self.model.get_weights())

    es = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    h = m.fit(x, y, epochs=30, verbose=0, validation_split=0.3, callbacks=[Snap(), es])
    assert len(h.epoch) < 30 and m.stop_training
    best_epoch = min(snapshots, key=lambda e: snapshots[e][0])
    for a, b in zip(m.get_weights(), snapshots[best_epoch][1]):
        np.testing.assert_array_equal(a, b)


def test_early_stopping_unknown_monitor_is_a_clear_error():
    x, y = data()
    m = mlp()
    m.compile(loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="val_loss.*available"):
        m.fit(x, y, epochs=2, verbose=0, callbacks=[EarlyStopping()])


def test_model_checkpoint(tmp_path):
    x, y = data(n=120)
    m = mlp()
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    m.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        validation_split=0.25,
        callbacks=[ModelCheckpoint(str(tmp_path / "ep{epoch:02d}.netcore"), save_best_only=False)],
    )
    assert sorted(os.listdir(tmp_path)) == ["ep01.netcore", "ep02.netcore", "ep03.netcore"]
    best = tmp_path / "best.netcore"
    m.fit(
        x,
        y,
        epochs=2,
        verbose=0,
        validation_split=0.25,
        callbacks=[ModelCheckpoint(str(best), save_best_only=True)],
    )
    assert nc.load_model(best).predict(x).shape == (120, 3)


def test_save_load_round_trip(tmp_path):
    x, y = data()
    m = mlp()
    m.compile(
        optimizer=nc.optimizers.RMSprop(learning_rate=0.01, momentum=0.5),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    m.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "m.netcore"
    m.save(path)
    m2 = nc.load_model(path, backend="cpu")
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert m.optimizer is not None and m2.optimizer is not None
    assert m2.optimizer.get_config() == m.optimizer.get_config()
    assert m2.optimizer.iterations == m.optimizer.iterations
    assert [layer.name for layer in m2.layers] == [layer.name for layer in m.layers]
    np.testing.assert_array_equal(m2.predict(x), m.predict(x))
    assert m2.evaluate(x, y) == m.evaluate(x, y)


def test_resume_equals_training_straight_through(tmp_path):
    x, y = data(n=100)

    def fresh():
        m = mlp(seed=11, dropout=0.2)
        m.compile(optimizer="adam", loss="categorical_crossentropy")
        return m

    straight = fresh()
    straight.fit(x, y, epochs=4, batch_size=16, verbose=0)
    first = fresh()
    first.fit(x, y, epochs=2, batch_size=16, verbose=0)
    first.save(tmp_path / "ckpt.netcore")
    resumed = nc.load_model(tmp_path / "ckpt.netcore", backend="cpu")
    resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=16, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    x, y = data()
    m = mlp()
    m.compile(loss="categorical_crossentropy")
    path = tmp_path / "m.netcore"
    m.save(path)
    before = path.read_bytes()
    m.fit(x, y, verbose=0)

    import netcore.saving.writer as saving

    def boom(*args):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(saving, "_write_member", boom)
    with pytest.raises(KeyboardInterrupt):
        m.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.netcore"]  # no temporary file left behind


def test_load_model_bad_files(tmp_path):
    with pytest.raises(nc.ModelFileError, match="does not exist"):
        nc.load_model(tmp_path / "missing.netcore")
    foreign = tmp_path / "foreign.netcore"
    foreign.write_text("hello")
    with pytest.raises(nc.ModelFileError, match="not a netcore model file"):
        nc.load_model(foreign)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("x.txt", "x")
    with pytest.raises(nc.ModelFileError, match="no netcore.json"):
        nc.load_model(other_zip)
    x, y = data()
    m = mlp()
    m.compile(loss="categorical_crossentropy")
    good = tmp_path / "good.netcore"
    m.save(good)
    raw = good.read_bytes()
    truncated = tmp_path / "truncated.netcore"
    truncated.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(nc.ModelFileError, match="truncated or corrupt"):
        nc.load_model(truncated)


def test_summary_and_unique_names(capsys):
    m = Sequential(backend="cpu")
    m.add(Dense(units=512, activation="relu", input_shape=(784,)))
    m.add(Dense(units=512, activation="relu"))
    m.add(Dense(units=10, activation="softmax"))
    m.summary()
    out = capsys.readouterr().out
    assert "dense_1" in out and "dense_2" in out
    assert "Total params: 669,706" in out
    assert m.count_params() == 784 * 512 + 512 + 512 * 512 + 512 + 5130


def test_flatten_images_and_lazy_build():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 20)
    m = Sequential(
        [Flatten(), Dense(8, activation="relu"), Dense(10, activation="softmax")], backend="cpu"
    )
    assert not m.built
    m.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    m.fit(x / 255, y, epochs=1, verbose=0)
    assert m.built and m.input_shape == (28, 28) and m.predict(x).shape == (20, 10)


def test_progress_output_one_line_per_epoch_when_not_a_terminal(capsys):
    x, y = data()
    m = mlp()
    m.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    m.fit(x, y, epochs=2, verbose=1, validation_split=0.2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2") and "val_accuracy" in lines[1]
    m.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""


def test_data_too_big_for_the_device_is_fed_per_batch_with_the_same_result(monkeypatch):
    x, y = data(n=70)
    results = []
    for fits in (True, False):
        m = mlp(seed=4)
        monkeypatch.setattr(m.backend, "fits_on_device", lambda nbytes, fits=fits: fits)
        m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        h = m.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_split=0.2)
        results.append((m.get_weights(), h.history, m.predict(x)))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_array_equal(a, b)
    assert results[0][1] == results[1][1]
    np.testing.assert_array_equal(results[0][2], results[1][2])


def test_one_fused_optimizer_update_per_step_over_flat_parameters(monkeypatch):
    """All weights live in one buffer, so a step makes ONE update call, and it equals the
    per-tensor Keras update of every weight."""
    x, y = data(n=32)
    m = mlp(seed=2)
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    base = m._flat_params
    for layer, key in m._refs:  # every weight is a view of the flat buffer
        assert np.shares_memory(layer.params[key], base)
    before = m.get_weights()
    be = m.backend
    xd, yd = be.asarray(x), be.asarray(y)
    _, grad, _ = m._loss_and_metrics(xd, yd, training=True)
    m._backward(grad)
    grads = [layer.grads[k].copy() for layer in m.layers for k in layer.params]
    calls = []
    real = be.adam_update

    def counted(*a, **k):
        calls.append(a[0].shape)
        return real(*a, **k)

    monkeypatch.setattr(be, "adam_update", counted)
    m._train_step(xd, yd)
    assert calls == [(m.count_params(),)]
    # the same step, per tensor, with the NumPy reference
    from netcore.backend.base import Backend

    ref = Backend(np)
    alpha = 0.001 * np.sqrt(1 - 0.999) / (1 - 0.9)
    for w, g, after in zip(before, grads, m.get_weights()):
        mm, vv = np.zeros_like(w), np.zeros_like(w)
        ref.adam_update(w, g, mm, vv, alpha, 0.9, 0.999, 1e-7)
        np.testing.assert_allclose(after, w, rtol=1e-6, atol=1e-9)
