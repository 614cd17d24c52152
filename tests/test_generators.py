"""fit/evaluate/predict on a generator or a PyDataset: the same training as on the arrays the
batches come from, Keras 3's epoch lengths, warnings when the data runs out, refusals by name."""

import io
import math
import warnings

import numpy as np
import pytest

import netcore
from netcore import Sequential
from netcore.callbacks import EarlyStopping, ModelCheckpoint
from netcore.layers import Dense, Dropout, Flatten
from netcore.utils import PyDataset, Sequence

N, BATCH = 70, 16
RNG = np.random.default_rng(7)
X = RNG.random((N, 3, 4), dtype=np.float32)
Y = np.eye(3, dtype=np.float32)[RNG.integers(0, 3, N)]
W = RNG.uniform(0.5, 2.0, N).astype(np.float32)


def model(dropout: float = 0.0) -> Sequential:
    layers = [Flatten(input_shape=(3, 4)), Dense(8, activation="relu")]
    layers += [Dropout(dropout)] if dropout else []
    m = Sequential([*layers, Dense(3, activation="softmax")], seed=3)
    m.compile("adam", "categorical_crossentropy", ["accuracy"])
    return m


def batches(weighted: bool = False, repeat: bool = True):
    while True:
        for s in range(0, N, BATCH):
            e = s + BATCH
            yield (X[s:e], Y[s:e], W[s:e]) if weighted else (X[s:e], Y[s:e])
        if not repeat:
            return


class Batches(PyDataset):
    def __init__(self) -> None:
        super().__init__()
        self.ends = 0
        self.read: list[int] = []

    def __len__(self) -> int:
        return math.ceil(N / BATCH)

    def __getitem__(self, i: int):
        self.read.append(i)
        return X[i * BATCH : (i + 1) * BATCH], Y[i * BATCH : (i + 1) * BATCH]

    def on_epoch_end(self) -> None:
        self.ends += 1


def weights_equal(a: Sequential, b: Sequential) -> None:
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_generator_trains_exactly_as_the_unshuffled_arrays_it_slices(weighted):
    ref, gen = model(dropout=0.3), model(dropout=0.3)
    kw = {"sample_weight": W} if weighted else {}
    h_ref = ref.fit(X, Y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0, **kw)
    h_gen = gen.fit(batches(weighted), epochs=3, steps_per_epoch=N / BATCH, verbose=0)
    weights_equal(ref, gen)
    assert h_gen.history == h_ref.history
    assert h_gen.params["steps"] == math.ceil(N / BATCH) == 5


def test_a_float_steps_per_epoch_is_rounded_up_and_the_generator_continues_across_epochs():
    drawn = []

    def counting():
        for i, batch in enumerate(batches()):
            drawn.append(i)
            yield batch

    model().fit(counting(), epochs=2, steps_per_epoch=4.2, verbose=0)
    assert drawn == list(range(10))  # 5 steps per epoch, not 4; epoch 2 draws the next 5


def test_a_pydataset_is_read_in_order_once_per_epoch_and_told_when_each_pass_ends():
    ds = Batches()
    ref, m = model(), model()
    ref.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    h = m.fit(ds, epochs=2, verbose=0)
    weights_equal(ref, m)
    assert ds.read == [0, 1, 2, 3, 4] * 2 and ds.ends == 2
    assert h.params["steps"] == 5
    assert Sequence is PyDataset  # Keras 2's name


def test_validation_evaluate_and_predict_on_batches_equal_the_arrays():
    m = model()
    h = m.fit(batches(), epochs=1, steps_per_epoch=5, validation_data=Batches(), verbose=0)
    on_arrays = m.evaluate(X, Y, return_dict=True)
    assert h.history["val_loss"][0] == pytest.approx(on_arrays["loss"], rel=1e-6)
    assert m.evaluate(Batches(), return_dict=True) == pytest.approx(on_arrays, rel=1e-6)
    assert m.evaluate(batches(), steps=5, return_dict=True) == pytest.approx(on_arrays, rel=1e-6)
    np.testing.assert_allclose(m.predict(Batches()), m.predict(X), rtol=1e-6)
    x_only = (X[s : s + BATCH] for s in range(0, N, BATCH))
    np.testing.assert_allclose(m.predict(x_only), m.predict(X), rtol=1e-6)


def test_a_generator_that_runs_out_warns_and_ends_training():
    m = model()
    with pytest.warns(UserWarning, match="ran out of data after 0 batch.*epoch 2.*training ends"):
        h = m.fit(batches(repeat=False), epochs=3, verbose=0)
    assert len(h.history["loss"]) == 1  # the empty epoch 2 is not recorded


def test_running_out_before_steps_per_epoch_ends_that_epoch_with_a_warning():
    with pytest.warns(UserWarning, match=r"ran out of data after 5 batch\(es\) in epoch 1"):
        h = model().fit(batches(repeat=False), epochs=1, steps_per_epoch=8, verbose=0)
    assert len(h.history["loss"]) == 1
    ds = Batches()
    with pytest.warns(UserWarning, match=r"after 5 batch\(es\) in epoch 1"):
        model().fit(ds, epochs=1, steps_per_epoch=7, verbose=0)
    assert ds.ends == 1


def test_checkpoints_and_resume_from_a_pydataset_repeat_the_uninterrupted_run(tmp_path):
    whole = model(dropout=0.3)
    whole.fit(Batches(), epochs=4, verbose=0)
    first = model(dropout=0.3)
    path = tmp_path / "ckpt-{epoch}.netcore"
    first.fit(Batches(), epochs=2, callbacks=[ModelCheckpoint(str(path))], verbose=0)
    resumed = netcore.load_model(tmp_path / "ckpt-2.netcore")
    resumed.fit(Batches(), epochs=4, initial_epoch=2, verbose=0)
    weights_equal(whole, resumed)


def test_callbacks_see_generator_validation_logs():
    stop = EarlyStopping(monitor="val_loss", patience=0, min_delta=10.0)
    h = model().fit(
        batches(),
        epochs=5,
        steps_per_epoch=5,
        validation_data=batches(),
        validation_steps=5,
        callbacks=[stop],
        verbose=0,
    )
    assert len(h.history["val_loss"]) == 2  # no epoch improves by 10: stops after the second


def test_a_batch_with_another_feature_shape_is_refused_naming_the_batch():
    def changing():
        yield X[:16], Y[:16]
        yield X[16:32].reshape(16, 4, 3), Y[16:32]

    with pytest.raises(ValueError, match=r"batch 2 of epoch 1.*\(4, 3\).*\(3, 4\)"):
        model().fit(changing(), epochs=1, verbose=0)


def test_a_batch_without_targets_is_refused_naming_the_batch():
    with pytest.raises(ValueError, match=r"\(x, y\).*batch 1 of epoch 1 is a ndarray"):
        model().fit(iter([X[:16]]), epochs=1, verbose=0)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"validation_split": 0.2}, "validation_split"),
        ({"shuffle": True}, "shuffle"),
        ({"y": Y}, "y"),
        ({"batch_size": 16}, "batch_size"),
        ({"sample_weight": W}, "sample_weight"),
    ],
)
def test_what_a_generator_carries_or_cannot_do_is_refused_by_name(kwargs, name):
    with pytest.raises(ValueError, match=rf"{name} cannot be used when x is a generator.*Received"):
        model().fit(batches(), epochs=1, steps_per_epoch=2, verbose=0, **kwargs)


def test_shuffle_false_is_accepted_with_a_generator():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model().fit(batches(), epochs=1, steps_per_epoch=2, shuffle=False, verbose=0)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf"), "5", True])
def test_steps_per_epoch_must_be_a_positive_number(bad):
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive number"):
        model().fit(batches(), epochs=1, steps_per_epoch=bad, verbose=0)


def test_steps_options_are_refused_with_arrays():
    m = model()
    with pytest.raises(ValueError, match="steps_per_epoch applies when the data is a generator"):
        m.fit(X, Y, steps_per_epoch=3, verbose=0)
    with pytest.raises(ValueError, match="validation_steps applies"):
        m.fit(X, Y, validation_data=(X, Y), validation_steps=3, verbose=0)
    with pytest.raises(ValueError, match="steps applies"):
        m.predict(X, steps=2)


def test_evaluate_on_an_empty_generator_is_an_error():
    with pytest.raises(ValueError, match="yielded no batches"):
        model().evaluate(iter([]))


def test_a_pydataset_epoch_shorter_than_a_pass_continues_where_the_last_one_stopped():
    ds = Batches()
    with pytest.warns(UserWarning, match=r"after 2 batch\(es\) in epoch 2"):
        h = model().fit(ds, epochs=3, steps_per_epoch=3, verbose=0)
    # Keras 3's order: the pass ends inside epoch 2 (a warning), epoch 3 starts over at 0
    assert ds.read == [0, 1, 2, 3, 4, 0, 1, 2] and ds.ends == 1
    assert len(h.history["loss"]) == 3


def test_class_weight_applies_to_generator_batches_as_to_arrays():
    weights = {0: 1.0, 1: 3.0, 2: 0.5}
    ref, gen = model(), model()
    ref.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, class_weight=weights, verbose=0)
    gen.fit(batches(), epochs=2, steps_per_epoch=5, class_weight=weights, verbose=0)
    weights_equal(ref, gen)


def test_the_bar_of_a_generator_of_unknown_length_ends_with_the_steps_it_ran(monkeypatch):
    from netcore.training import progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    monkeypatch.setattr(progress, "terminal_columns", lambda file: 160)
    monkeypatch.setattr(progress.sys, "stdout", out)
    with pytest.warns(UserWarning, match="epoch 2"):
        model().fit(batches(repeat=False), epochs=2, verbose=1)
    last = out.getvalue().split("\n")[0].split("\r")[-1]  # the first epoch's final bar
    assert "Epoch 1/2" in last and "5/5" in last and "100%" in last
