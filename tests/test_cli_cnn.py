"""``netcore train --model cnn`` and ``netcore plot filters|feature-maps`` end to end, on tiny
synthetic MNIST files (helpers and the offline fixture from test_cli)."""

from __future__ import annotations

import json

import pytest
from test_cli import assert_png, make_idx_folder, offline, run  # noqa: F401 (autouse fixture)

TINY_CNN = ["--model", "cnn", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture
def cnn_run(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=48)
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys, "train", "--dataset", "mnist", "--data", str(data), *TINY_CNN, "--out", str(out)
    )
    assert rc == 0, err
    return out, stdout


def test_train_model_cnn_trains_the_course_network_and_records_it(cnn_run):
    out, stdout = cnn_run
    # The course network, 10 outputs: 264,049 - 14 * 513 parameters, 300 non-trainable.
    assert "conv2d (Conv2D, relu)" in stdout and "(None, 28, 28, 75)" in stdout
    assert "Total params: 256,867" in stdout and "Non-trainable params: 300" in stdout
    record = json.loads((out / "history.json").read_text())
    assert record["config"]["model"] == "cnn"
    assert "hidden" not in record["config"] and "dropout" not in record["config"]
    assert len(record["history"]["loss"]) == 1
    assert (out / "model.netcore").is_file()


def test_plot_filters_and_feature_maps_of_a_trained_cnn(cnn_run, tmp_path, capsys):
    out, _ = cnn_run
    figs = tmp_path / "figs"
    model = str(out / "model.netcore")
    rc, stdout, err = run(capsys, "plot", "filters", "--model", model, "--out", str(figs))
    assert rc == 0, err
    assert_png(figs / "filters.png")
    assert f"Wrote {figs / 'filters.png'}" in stdout
    rc, stdout, err = run(
        capsys, "plot", "feature-maps", "--model", model, "--index", "3", "--out", str(figs)
    )
    assert rc == 0, err
    assert_png(figs / "feature-maps.png")
    rc, _, err = run(
        capsys, "plot", "feature-maps", "--model", model, "--index", "999", "--out", str(figs)
    )
    assert rc == 1 and "--index 999 is past the 10 validation images" in err


def test_cnn_refuses_the_mlp_only_options(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=20)
    rc, _, err = run(
        capsys, "train", "--dataset", "mnist", "--data", str(data), *TINY_CNN, "--hidden", "32"
    )
    assert rc == 1
    assert "--hidden shape the MLP only; the course CNN has fixed layers" in err


def test_plot_filters_of_a_dense_model_says_to_train_the_cnn(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=20)
    out = tmp_path / "mlp"
    tiny = ["--epochs", "1", "--batch-size", "16", "--hidden", "8"]
    rc, _, err = run(
        capsys, "train", "--dataset", "mnist", "--data", str(data), *tiny, "--out", str(out)
    )
    assert rc == 0, err
    rc, _, err = run(capsys, "plot", "filters", "--model", str(out / "model.netcore"))
    assert rc == 1 and "holds no Conv2D layer" in err and "--model cnn" in err
    rc, _, err = run(capsys, "plot", "filters", "--model", str(tmp_path / "nope.netcore"))
    assert rc == 1 and "does not exist" in err and "--model cnn" in err
