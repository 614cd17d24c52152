"""Model reliability: add/build keep trained weights and optimizer state, one model per layer,
predict/evaluate from several threads, one training thread, and repeated fit calls that
continue the epoch count for shuffles and dropout masks."""

import gc
import threading

import numpy as np
import pytest

from netcore.callbacks import Callback
from netcore.layers import Conv2D, Dense, Dropout, Flatten, Layer
from netcore.models import Sequential
from netcore.optimizers import Adam
from netcore.utils import to_categorical

RNG = np.random.default_rng(5)
X = RNG.normal(size=(64, 6)).astype(np.float32)
Y = to_categorical((X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5), 3)


def mlp(seed=0, dropout=0.0):
    layers: list[Layer] = [Dense(8, activation="relu", input_shape=(6,))]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(3, activation="softmax"))
    return Sequential(layers, backend="cpu", seed=seed)


def trained(seed=0):
    m = mlp(seed)
    m.compile(optimizer=Adam(0.01), loss="categorical_crossentropy")
    m.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    return m


def test_add_after_training_keeps_trained_weights_and_their_optimizer_state():
    m = trained()
    weights = m.get_weights()
    n = sum(w.size for w in weights)
    state = {k: v.copy() for k, v in m.optimizer.state[0].items()}
    steps = m.optimizer.iterations
    m.add(Dense(2, activation="softmax"))
    for before, after in zip(weights, m.get_weights()):
        np.testing.assert_array_equal(before, after)
    # the new layer starts as it would in a model built whole with the same seed
    whole = Sequential(
        [
            Dense(8, activation="relu", input_shape=(6,)),
            Dense(3, activation="softmax"),
            Dense(2, activation="softmax"),
        ],
        backend="cpu",
        seed=0,
    )
    for fresh, added in zip(whole.get_weights()[4:], m.get_weights()[4:]):
        np.testing.assert_array_equal(fresh, added)
    assert m.optimizer.iterations == steps
    for k, v in m.optimizer.state[0].items():
        np.testing.assert_array_equal(v[:n], state[k])  # Adam's m and v of the kept weights
        assert not np.any(v[n:])  # fresh moments for the new layer
    m.fit(X, to_categorical((X[:, 0] > 0).astype(int), 2), epochs=1, verbose=0)  # and it trains


def test_build_again_keeps_the_weights_and_refuses_another_input_shape():
    m = trained()
    weights = m.get_weights()
    m.build((6,))
    for before, after in zip(weights, m.get_weights()):
        np.testing.assert_array_equal(before, after)
    with pytest.raises(ValueError, match=r"built for input shape \(6,\), received build\(\(5,\)\)"):
        m.build((5,))


def test_a_layer_that_does_not_fit_is_not_added_and_the_model_stays_as_it_was():
    m = trained()
    m.add(_AddAxis())  # (3,) -> (1, 3)
    weights = m.get_weights()
    state = {k: v.copy() for k, v in m.optimizer.state[0].items()}
    with pytest.raises(ValueError, match=r"Conv2D expects images of shape"):
        m.add(Conv2D(3, 1))
    assert [type(layer).__name__ for layer in m.layers] == ["Dense", "Dense", "_AddAxis"]
    assert m.output_shape == (1, 3)
    for before, after in zip(weights, m.get_weights()):
        np.testing.assert_array_equal(before, after)
    for k, v in m.optimizer.state[0].items():
        np.testing.assert_array_equal(v, state[k])
    m.add(Flatten())
    m.add(Dense(3, activation="softmax"))
    m.fit(X, Y, verbose=0)


class _AddAxis(Flatten):
    """``(N, d) -> (N, 1, d)``: a test layer whose output is not flat."""

    def _build(self, input_shape, ctx):
        return (1, *input_shape)

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], 1, -1)

    def backward(self, dy, need_dx=True):
        return dy.reshape(dy.shape[0], -1) if need_dx else None


def test_a_layer_of_another_model_is_refused():
    shared = Dense(3, activation="softmax")
    first = Sequential([Dense(4, input_shape=(6,)), shared], backend="cpu")
    with pytest.raises(
        ValueError,
        match=r"layer 'dense_1' already belongs to model 'first'.*"
        r"new.set_weights\(old.get_weights\(\)\)",
    ):
        first.name = "first"
        Sequential([Dense(4, input_shape=(6,)), shared], backend="cpu")
    with pytest.raises(ValueError, match=r"layer 'dense_1' is already in this model"):
        first.add(shared)
    del first
    gc.collect()
    reused = Sequential([Dense(4, input_shape=(6,)), shared], backend="cpu")  # its model is gone
    assert reused.layers[1] is shared


def test_predict_and_evaluate_from_several_threads_match_the_single_threaded_results():
    m = Sequential(
        [
            Dense(64, activation="relu", input_shape=(6,)),
            Dense(64, activation="tanh"),
            Dense(3, activation="softmax"),
        ],
        backend="cpu",
        seed=1,
    )
    m.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    inputs = [RNG.normal(size=(int(n), 6)).astype(np.float32) for n in RNG.integers(1, 200, 8)]
    expected = [m.predict(x, batch_size=16) for x in inputs]
    expected_eval = m.evaluate(X, Y, batch_size=8)
    failures = []

    def worker(k):
        for i in range(30):
            j = (k + i) % len(inputs)
            if not np.array_equal(m.predict(inputs[j], batch_size=16), expected[j]):
                failures.append(("predict", k, i))
            if i % 5 == 0 and m.evaluate(X, Y, batch_size=8) != expected_eval:
                failures.append(("evaluate", k, i))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


class _Pause(Callback):
    """Holds fit inside its first epoch end until released."""

    def __init__(self):
        self.inside, self.release = threading.Event(), threading.Event()

    def on_epoch_end(self, epoch, logs=None):
        self.inside.set()
        self.release.wait(30)


def test_fit_from_a_second_thread_is_refused_while_predict_still_runs():
    m = trained()
    pause = _Pause()
    errors = []
    thread = threading.Thread(target=lambda: m.fit(X, Y, epochs=2, verbose=0, callbacks=[pause]))
    thread.start()
    try:
        assert pause.inside.wait(30)
        for call in (lambda: m.fit(X, Y, verbose=0), lambda: m.train_on_batch(X, Y)):
            try:
                call()
            except RuntimeError as exc:
                errors.append(str(exc))
        assert m.predict(X).shape == (64, 3)  # inference goes on beside training
    finally:
        pause.release.set()
        thread.join()
    assert len(errors) == 2
    assert all("while model.fit() is running in another thread" in e for e in errors)
    m.fit(X, Y, verbose=0)  # free again once the first fit has returned


def test_fit_from_inside_its_own_callback_is_refused():
    m = trained()

    class Nested(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.fit(X, Y, verbose=0)

    with pytest.raises(RuntimeError, match=r"running in this thread \(from a callback\?\)"):
        m.fit(X, Y, verbose=0, callbacks=[Nested()])
    m.fit(X, Y, verbose=0)


def test_repeated_fit_calls_continue_the_epoch_count_for_shuffles_and_dropout():
    def run(*calls):
        m = mlp(seed=3, dropout=0.4)
        m.compile(optimizer="adam", loss="categorical_crossentropy")
        for kw in calls:
            m.fit(X, Y, batch_size=16, verbose=0, **kw)
        return m.get_weights()

    straight = run({"epochs": 3})
    for a, b in zip(straight, run({"epochs": 1}, {"epochs": 1}, {"epochs": 1})):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(straight, run({"epochs": 2}, {"epochs": 1})):
        np.testing.assert_array_equal(a, b)
    # an explicit initial_epoch says which epoch this is: epoch 0 again repeats its masks
    repeated = run(
        {"epochs": 1}, {"epochs": 1, "initial_epoch": 0}, {"epochs": 1, "initial_epoch": 0}
    )
    assert any(not np.array_equal(a, b) for a, b in zip(straight, repeated))
    resumed = run({"epochs": 1}, {"epochs": 3, "initial_epoch": 1})
    for a, b in zip(straight, resumed):
        np.testing.assert_array_equal(a, b)
