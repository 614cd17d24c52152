"""Reliability of the model, the trainer and its files: consistent checkpoints under a
concurrent ``save``, bounded per-batch-size buffers, one optimizer per model, construction
linear in the layers, sample weights beyond float32, 255-byte file names, a damaged
history.json, Ctrl-C in ``netcore train``, and the memory a save needs. The data-parallel
items are in ``tests/test_distribution.py``."""

from __future__ import annotations

import json
import threading
import tracemalloc

import numpy as np
import pytest
from test_cli import make_idx_folder

import netcore
from netcore import cli, layers, optimizers
from netcore.cli import train as cli_train
from netcore.datasets import _locate
from netcore.saving.loader import load_model


def _mlp(units=(8, 3), seed=1, dtype="float64", optimizer="adam") -> netcore.Sequential:
    model = netcore.Sequential(
        [layers.Dense(units[0], activation="relu", input_shape=(5,)), layers.Dense(units[1])],
        backend="cpu",
        seed=seed,
        dtype=dtype,
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


# --------------------------------------------------------------------------- item 6
def test_saves_from_another_thread_during_fit_each_hold_one_step_boundary(tmp_path):
    model = _mlp()
    states: dict[int, tuple[np.ndarray, list[np.ndarray]]] = {}
    apply = model._apply_gradients

    def recorded_apply() -> None:  # runs under the model's lock, inside the step
        apply()
        opt = model.optimizer
        assert opt is not None
        slots = [a.copy() for s in opt.state for a in s.values()]
        states[opt.iterations] = (model._flat_params.copy(), slots)

    model._apply_gradients = recorded_apply  # type: ignore[method-assign]
    assert model.optimizer is not None
    states[0] = (
        model._flat_params.copy(),
        [a.copy() for s in model.optimizer.state for a in s.values()],
    )
    done = threading.Event()
    paths = []

    def saver() -> None:
        for i in range(400):
            path = tmp_path / f"c{i % 8}.netcore"
            model.save(path)
            paths.append((i, path))
            loaded = load_model(path)
            opt = loaded.optimizer
            assert opt is not None
            params, slots = states[opt.iterations]
            got = np.concatenate([w.ravel() for w in loaded.get_weights()])
            np.testing.assert_array_equal(got, params, err_msg=f"save {i}: weights")
            for a, b in zip((a for s in opt.state for a in s.values()), slots):
                np.testing.assert_array_equal(a, b, err_msg=f"save {i}: optimizer slot")
        done.set()

    class StopWhenSaved(netcore.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = done.is_set()

    x = np.random.default_rng(0).normal(size=(64, 5))
    y = x[:, :3] * 0.5
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            saver()
        except BaseException as exc:  # reported from the main thread
            errors.append(exc)
            done.set()

    thread = threading.Thread(target=guarded)
    thread.start()
    model.fit(x, y, batch_size=1, epochs=10**6, verbose=0, callbacks=[StopWhenSaved()])
    thread.join()
    assert not errors, errors[0]
    assert len(paths) == 400 and len(states) > 64  # the saves overlapped many steps


# --------------------------------------------------------------------------- item 7
def test_many_distinct_batch_sizes_keep_a_bounded_set_of_buffers():
    model = netcore.Sequential(
        [layers.Dense(1000, input_shape=(4,))], backend="cpu", seed=0, dtype="float32"
    )
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    for n in range(1, 61):
        x = rng.normal(size=(n, 4)).astype(np.float32)
        model.train_on_batch(x, np.zeros((n, 1000), np.float32))
        model.evaluate(x, np.zeros((n, 1000), np.float32), batch_size=n)
    assert len(model._grad_buffers) <= 16
    held = sum(b.nbytes for b in model._grad_buffers.values())
    held += sum(b.nbytes for layer in model.layers for b in layer._buffers.values())
    # 60 sizes kept would be about 3 x 60 x 30 rows x 4 kB = 22 MB
    assert held < 3 * 17 * 60 * 1000 * 4


# --------------------------------------------------------------------------- item 8
def test_one_optimizer_object_serves_one_model():
    adam = optimizers.Adam(learning_rate=0.01)
    first, second = _mlp(optimizer=adam), _mlp(optimizer="sgd")
    with pytest.raises(ValueError, match="already compiled into model 'sequential'.*Received"):
        second.compile(optimizer=adam, loss="mse")
    assert second.optimizer is not adam
    first.compile(optimizer=adam, loss="mse")  # the same model again: fine
    first.compile(optimizer="sgd", loss="mse")  # released: another model may take it
    second.compile(optimizer=adam, loss="mse")
    assert second.optimizer is adam


# --------------------------------------------------------------------------- item 9
def test_building_from_a_config_builds_each_layer_once_and_names_them_as_keras(monkeypatch):
    builds = []
    build = layers.Dense.build

    def counted(self, *args, **kwargs):
        builds.append(self)
        return build(self, *args, **kwargs)

    monkeypatch.setattr(layers.Dense, "build", counted)
    n = 300
    config = {
        "name": "deep",
        "seed": 1,
        "dtype": "float32",
        "layers": [
            {"class": "Dense", "config": {"units": 2, **({"input_shape": [2]} if i == 0 else {})}}
            for i in range(n)
        ],
    }
    model = netcore.Sequential.from_config(config, backend="cpu")
    assert model.built and len(builds) == n  # once each, not once per add
    assert [layer.name for layer in model.layers[:3]] == ["dense", "dense_1", "dense_2"]
    assert len({layer.name for layer in model.layers}) == n
    ref = netcore.Sequential(backend="cpu", seed=1)
    for _ in range(n):
        ref.add(layers.Dense(2))
    ref.build((2,))
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, b)  # the same weights as layer-by-layer


def test_load_model_checks_the_file_members_in_one_pass(tmp_path, monkeypatch):
    from netcore.saving import reader

    n = 400
    model = netcore.Sequential([layers.Dense(1, input_shape=(1,))], backend="cpu", seed=2)
    for _ in range(n - 1):
        model.add(layers.Dense(1))
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "deep.netcore")
    passes = []

    class Counted(list):
        def __iter__(self):
            passes.append(1)
            return super().__iter__()

    refuse = reader.ModelFile._refuse_extra

    def counted(self, prefix, expected, what):
        return refuse(self, prefix, Counted(expected), what)

    monkeypatch.setattr(reader.ModelFile, "_refuse_extra", counted)
    loaded = load_model(tmp_path / "deep.netcore")
    assert loaded.optimizer is not None
    assert len(loaded.layers) == n and loaded.optimizer.iterations == 0
    assert len(passes) <= 2  # weights, optimizer state: one pass over each name list


# --------------------------------------------------------------------------- item 11
@pytest.mark.parametrize("how", ["sample_weight", "class_weight"])
def test_weights_beyond_float32_are_refused_with_the_range_message(how):
    model = _mlp(units=(4, 2), dtype="float32")
    x = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(6) % 2]
    kwargs = (
        {"sample_weight": np.full(6, 1e39)}
        if how == "sample_weight"
        else {"class_weight": {0: 1.0, 1: 1e39}}
    )
    with pytest.raises(ValueError, match=f"{how} holds values up to 1e\\+39, beyond the range"):
        model.fit(x, y, batch_size=3, epochs=1, verbose=0, **kwargs)


# --------------------------------------------------------------------------- item 12
@pytest.mark.parametrize("stem", ["m" * 247, "é" * 123 + "x"])
def test_a_255_byte_file_name_saves_and_loads(tmp_path, stem):
    name = stem + ".netcore"
    assert len(name.encode()) == 255
    model = _mlp()
    model.save(tmp_path / name)
    model.save(tmp_path / name)  # replaced, temporaries cleaned
    assert [p.name for p in tmp_path.iterdir()] == [name]
    for a, b in zip(load_model(tmp_path / name).get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- items 13, 14
@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.delenv("NETCORE_DATA", raising=False)
    monkeypatch.setenv("NETCORE_BACKEND", "cpu")
    monkeypatch.setattr(_locate, "SYSTEM_DIRS", (tmp_path / "system",))
    monkeypatch.setattr(_locate, "fetch", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.chdir(tmp_path)


TRAIN = ["train", "--dataset", "mnist", "--batch-size", "16", "--hidden", "16"]


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda r: r.pop("config"), '"config" must be an object'),
        (lambda r: r["config"].update(seed="7"), '"config"."seed" must be a non-negative integer'),
        (lambda r: r["config"].pop("validation_split"), '"config"."validation_split" must be'),
        (lambda r: r["config"].update(validation_split=2), '"config"."validation_split" must be'),
        (lambda r: r["data"].update(dataset=3), '"data"."dataset" must be a data set name'),
        (lambda r: r["config"].update(limit=-5), '"config"."limit" must be a positive'),
        (lambda r: r.clear() or r.update(data=[]), '"data" must be an object'),
    ],
)
def test_plot_predictions_names_the_damaged_field_of_history_json(
    tmp_path, capsys, offline, edit, field
):
    data = make_idx_folder(tmp_path / "mnist", n_test=60)
    assert cli.main([*TRAIN, "--data", str(data), "--epochs", "1", "--out", "run"]) == 0
    record_file = tmp_path / "run" / "history.json"
    record = json.loads(record_file.read_text())
    edit(record)
    record_file.write_text(json.dumps(record))
    capsys.readouterr()
    rc = cli.main(["plot", "predictions", "--model", "run/model.netcore", "--out", "p"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "run/history.json is damaged" in err and field in err, err
    assert "unexpected" not in err


def test_ctrl_c_in_train_keeps_the_last_completed_epochs_model(
    tmp_path, capsys, offline, monkeypatch
):
    data = make_idx_folder(tmp_path / "mnist", n_test=60)
    weights_at: dict[int, list[np.ndarray]] = {}
    keep = cli_train._EpochKeeper.on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        keep(self, epoch, logs)
        weights_at[epoch + 1] = self.model.get_weights()
        if epoch == 1:
            raise KeyboardInterrupt  # Ctrl-C right after epoch 2's model was written

    monkeypatch.setattr(cli_train._EpochKeeper, "on_epoch_end", on_epoch_end)
    rc = cli.main([*TRAIN, "--data", str(data), "--epochs", "5", "--out", "run"])
    out = capsys.readouterr().out
    assert rc == 130
    path = tmp_path / "run" / "model.netcore"
    assert "Interrupted: the model of epoch 2 is saved in run/model.netcore." in out
    for a, b in zip(load_model(path).get_weights(), weights_at[2]):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_before_the_first_epoch_ends_says_nothing_was_saved(
    tmp_path, capsys, offline, monkeypatch
):
    data = make_idx_folder(tmp_path / "mnist", n_test=60)

    def interrupt(self, epoch, logs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_train._EpochKeeper, "on_epoch_end", interrupt)
    rc = cli.main([*TRAIN, "--data", str(data), "--epochs", "3", "--out", "run"])
    assert rc == 130
    assert "Interrupted before the first epoch ended: no model saved." in capsys.readouterr().out
    assert not (tmp_path / "run" / "model.netcore").exists()


# --------------------------------------------------------------------------- item 15
def test_a_save_needs_about_one_array_beyond_the_model(tmp_path):
    # three 4 MB kernels (float32) and Adam's two slots: 36 MB of arrays; the largest is 4 MB
    model = netcore.Sequential(
        [
            layers.Dense(1000, input_shape=(1000,)),
            layers.Dense(1000),
            layers.Dense(1000),
        ],
        backend="cpu",
        seed=0,
    )
    model.compile(optimizer="adam", loss="mse")
    largest = 1000 * 1000 * 4
    tracemalloc.start()
    try:
        model.save(tmp_path / "m.netcore")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < largest // 2, f"a save allocated {peak / 1e6:.1f} MB at its peak"
    for a, b in zip(load_model(tmp_path / "m.netcore").get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- the figures
def test_the_figures_on_the_doc_pages_are_the_measured_ones():
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    measured = json.loads((repo / "benchmarks/results/reliability_cpu.json").read_text())
    stall, save = measured["stall"], measured["save_memory"]
    distributed = " ".join((repo / "docs/distributed.md").read_text().split())
    assert (
        f"the first report came after {stall['first_report_after_s']:g} s of waiting and the "
        f"job ended {stall['job_ended_after_s']:g} s after launch"
    ) in distributed
    design = " ".join((repo / "docs/design.md").read_text().split())
    assert (
        f"saving a model of {save['weights_mb']:g} MB of float32 weights (one "
        f"{save['largest_array_mb']:g} MB kernel) allocated {save['save_traced_peak_mb']:g} MB"
    ) in design
    table = (repo / "benchmarks/results/reliability_cpu.md").read_text()
    assert measured["commit"] in table and measured["date"] in table


def test_the_figures_script_runs_at_tiny_sizes():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks import reliability_cpu

    deep = reliability_cpu.many_layers(40)
    assert deep["layers"] == 40 and deep["load_model"] == "loaded"
    save = reliability_cpu.save_memory(4)
    assert save["weights_mb"] > 3
    assert save["save_traced_peak_mb"] < save["largest_array_mb"]
