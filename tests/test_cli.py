"""End-to-end tests of the ``netcore`` command line: every subcommand, exit codes, files.

Commands run in-process through ``netcore.cli.main([...])`` (fast) and, for a few, as a real
``python -m netcore`` subprocess. Data sets are tiny synthetic IDX / CSV files written into
``tmp_path``; the network is cut off so nothing is ever downloaded.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import netcore
from netcore import cli
from netcore.datasets import _locate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
REPO = Path(__file__).resolve().parents[1]
TINY = ["--epochs", "1", "--batch-size", "16", "--hidden", "16"]


# --------------------------------------------------------------------------- helpers
def assert_png(path: Path, min_bytes: int = 2000) -> None:
    assert path.is_file(), f"{path} was not written"
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert len(data) >= min_bytes, f"{path} is suspiciously small ({len(data)} bytes)"


def images_for(labels: np.ndarray, seed: int) -> np.ndarray:
    """28x28 uint8 images a small MLP can learn: a bright 7x7 block whose place is the label."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, k in enumerate(labels):
        r, c = divmod(int(k) % 16, 4)
        x[i, r * 7 : (r + 1) * 7, c * 7 : (c + 1) * 7] = 230
    return x


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def make_idx_folder(folder: Path, n_test: int = 100, n_train: int = 0, seed: int = 0) -> Path:
    """MNIST-format files: always the t10k pair, the train pair when ``n_train``."""
    folder.mkdir(parents=True, exist_ok=True)
    splits = [("t10k", n_test)] + ([("train", n_train)] if n_train else [])
    for i, (stem, n) in enumerate(splits):
        y = (np.arange(n) % 10).astype(np.uint8)
        np.random.default_rng(seed + i).shuffle(y)
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", images_for(y, seed + 10 + i))
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", y)
    return folder


def write_sign_csv(path: Path, labels: np.ndarray, seed: int) -> None:
    x = images_for(labels, seed).reshape(len(labels), -1)
    lines = ["label," + ",".join(f"pixel{i}" for i in range(1, 785))]
    lines += [f"{int(k)}," + ",".join(map(str, row)) for k, row in zip(labels, x)]
    path.write_text("\n".join(lines) + "\n")


def step_rows(out: str) -> list[list[str]]:
    """The rows of the linear walk-through's step table (after its 'step m b ...' header)."""
    lines = out.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.split()[:3] == ["step", "m", "b"])
    rows = []
    for ln in lines[start + 1 :]:
        if not ln.strip():
            break
        rows.append(ln.split())
    return rows


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No default data folders and no network: only what a test writes exists."""
    monkeypatch.delenv("NETCORE_DATA", raising=False)
    # The CPU, also where a GPU is usable: results must not depend on the machine.
    monkeypatch.setenv("NETCORE_BACKEND", "cpu")
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(_locate, "SYSTEM_DIRS", (tmp_path / "system",))

    def no_network(url, out, *, desc):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(_locate, "fetch", no_network)
    monkeypatch.chdir(tmp_path)


# --------------------------------------------------------------------------- train
def test_train_on_test_set_only_folder(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=100)
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys, "train", "--dataset", "mnist", "--data", str(data), *TINY, "--out", str(out)
    )
    assert rc == 0, err
    assert "only the MNIST TEST set" in stdout
    assert "80 test-set images to train on, 20 to validate on" in stdout
    assert "Epoch 1/1" in stdout  # the progress display
    assert "training:   loss" in stdout and "validation: loss" in stdout
    assert "test:" not in stdout  # no separate test set to report

    record = json.loads((out / "history.json").read_text())
    hist = record["history"]
    assert set(hist) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 1 for v in hist.values())
    assert record["epochs"] == [1]
    assert record["test"] is None
    assert record["data"] == {
        "dataset": "mnist",
        "source": str(data),
        "origin": "files",
        "from_test_set": True,
        "train": 80,
        "validation": 20,
        "test": 0,
        "num_classes": 10,
    }
    assert record["config"]["hidden"] == [16] and record["config"]["optimizer"] == "rmsprop"
    assert record["final"]["val_accuracy"] == hist["val_accuracy"][-1]

    model = netcore.load_model(out / "model.netcore")
    assert model.predict(np.zeros((2, 28, 28), np.float32)).shape == (2, 10)
    assert_png(out / "loss.png")
    assert_png(out / "accuracy.png")


def test_train_full_data_reports_test_accuracy_and_learns(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "fashion", n_test=60, n_train=300)
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys,
        "train",
        "--dataset",
        "fashion-mnist",
        "--data",
        str(data),
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--hidden",
        "32",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.003",
        "--validation-split",
        "0.1",
        "--out",
        str(out),
    )
    assert rc == 0, err
    assert "270 images to train on, 30 to validate on, 60 test images" in stdout
    assert "test:       loss" in stdout
    record = json.loads((out / "history.json").read_text())
    assert record["data"]["from_test_set"] is False
    assert record["config"]["learning_rate"] == pytest.approx(0.003)
    assert len(record["history"]["loss"]) == 3
    assert record["history"]["loss"][-1] < record["history"]["loss"][0]
    assert record["test"]["accuracy"] > 0.8  # the synthetic blocks are easy


def test_train_limit_and_no_validation(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=100)
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(data),
        *TINY,
        "--limit",
        "30",
        "--validation-split",
        "0",
        "--out",
        str(out),
    )
    assert rc == 0, err
    assert "30 test-set images to train on, no validation set" in stdout
    assert "overfitting" not in stdout.lower()
    hist = json.loads((out / "history.json").read_text())["history"]
    assert set(hist) == {"loss", "accuracy"}
    assert_png(out / "loss.png")


def test_train_says_overfitting_plainly(tmp_path, capsys):
    # Random labels: a big enough network memorises them while validation stays at chance.
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(3)
    write_idx(
        folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    )
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 60).astype(np.uint8))
    rc, stdout, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(folder),
        "--epochs",
        "25",
        "--batch-size",
        "8",
        "--hidden",
        "64",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.003",
        "--out",
        str(tmp_path / "run"),
    )
    assert rc == 0, err
    assert "OVERFITTING: validation accuracy" in stdout
    assert "--dropout" in stdout and "--patience" in stdout and "--hidden" in stdout


def test_overfitting_advice_threshold():
    # The CLI's names for the course's advice (netcore.course.overfitting has the branch tests).
    assert cli.overfitting_advice(0.99, 0.95)[0].startswith("OVERFITTING")
    assert cli.overfitting_advice(0.99, 0.97)[0].startswith("No sign of overfitting")
    rising = cli.overfitting_advice(0.99, 0.98, [0.5, 0.3, 0.4])
    assert any("lowest after epoch 2" in line for line in rising)
    few = cli.overfitting_advice(0.5, 0.0, n_val=8)
    assert few[0].startswith("OVERFITTING") and "only 8 validation images" in few[-1]
    assert not any("only" in line for line in cli.overfitting_advice(0.99, 0.9, n_val=2000))
    assert cli.OVERFIT_THRESHOLD == 0.03


def test_train_patience_and_dropout(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=100)
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(data),
        "--epochs",
        "2",
        "--batch-size",
        "16",
        "--hidden",
        "16,8",
        "--dropout",
        "0.2",
        "--patience",
        "1",
        "--out",
        str(out),
    )
    assert rc == 0, err
    assert "dropout" in stdout.lower()  # in the model summary
    record = json.loads((out / "history.json").read_text())
    assert record["config"]["dropout"] == 0.2 and record["config"]["hidden"] == [16, 8]


def test_train_early_stopping_reports_the_restored_weights(tmp_path, capsys):
    # Random labels: validation loss rises from the start, so patience 1 stops at epoch 2.
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(5)
    write_idx(
        folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    )
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 60).astype(np.uint8))
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(folder),
        "--epochs",
        "10",
        "--batch-size",
        "8",
        "--hidden",
        "64",
        "--optimizer",
        "adam",
        "--learning-rate",
        "0.003",
        "--patience",
        "1",
        "--out",
        str(out),
    )
    assert rc == 0, err
    assert "Early stopping after epoch" in stdout and "were restored" in stdout
    record = json.loads((out / "history.json").read_text())
    assert len(record["epochs"]) < 10
    # The saved model is the restored one: its validation loss is the best epoch's.
    assert record["final"]["val_loss"] == pytest.approx(
        min(record["history"]["val_loss"]), rel=1e-4
    )


def test_train_sign_mnist_csv(tmp_path, capsys):
    folder = tmp_path / "sign"
    folder.mkdir()
    letters = np.array([k for k in range(25) if k != 9])
    write_sign_csv(folder / "sign_mnist_train.csv", np.resize(letters, 96), seed=1)
    write_sign_csv(folder / "sign_mnist_test.csv", np.resize(letters, 48), seed=2)
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys, "train", "--dataset", "sign-mnist", "--data", str(folder), *TINY, "--out", str(out)
    )
    assert rc == 0, err
    assert "25 output units" in stdout and "J (label 9)" in stdout
    assert "(None, 25)" in stdout  # the softmax layer in the summary
    assert "48 test images" in stdout
    record = json.loads((out / "history.json").read_text())
    assert record["data"]["num_classes"] == 25 and record["data"]["test"] == 48
    assert_png(out / "accuracy.png")


def test_train_sign_mnist_missing_names_kaggle(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc, stdout, err = run(
        capsys, "train", "--dataset", "sign-mnist", "--data", str(tmp_path / "empty")
    )
    assert rc == 1
    lines = err.splitlines()
    assert lines[0] == (
        f"netcore: error: Sign Language MNIST not found in {tmp_path / 'empty'}: "
        "need sign_mnist_train.csv and/or sign_mnist_test.csv"
    )
    assert lines[1].startswith("  Sign Language MNIST needs a free Kaggle account")  # kept apart
    assert ";" not in err and len(lines) == 2


def test_train_real_mnist_test_split(tmp_path, capsys):
    from netcore.datasets import mnist

    real = tmp_path / "real"
    real.mkdir()
    for f in mnist.bundled_dir().glob("t10k-*.gz"):
        (real / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(real),
        "--epochs",
        "1",
        "--batch-size",
        "128",
        "--hidden",
        "64",
        "--limit",
        "3000",
        "--out",
        str(out),
    )
    assert rc == 0, err
    assert "2,400 test-set images to train on, 600 to validate on" in stdout
    record = json.loads((out / "history.json").read_text())
    assert record["final"]["val_accuracy"] > 0.75


def test_train_mnist_found_nowhere_uses_the_shipped_test_set_and_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--hidden",
        "64",
        "--limit",
        "2000",
        "--out",
        str(out),
    )
    assert rc == 0, err
    notes = [ln for ln in stdout.splitlines() if ln.startswith("Note:")]
    assert len(notes) == 1
    assert notes[0].startswith("Note: no MNIST files found (download failed: ")
    assert "MNIST test set shipped with netcore (10,000 images" in notes[0]
    assert "1,600 test-set images to train on, 400 to validate on" in stdout
    record = json.loads((out / "history.json").read_text())
    assert record["data"]["origin"] == "bundled" and record["data"]["source"] is None
    assert record["final"]["val_accuracy"] > 0.75


def test_train_no_download_goes_straight_to_the_shipped_set(tmp_path, capsys, monkeypatch):
    def must_not_fetch(url, out, *, desc):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(_locate, "fetch", must_not_fetch)
    rc, stdout, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--no-download",
        *TINY,
        "--limit",
        "200",
        "--out",
        str(tmp_path / "run"),
    )
    assert rc == 0, err
    assert (
        "Note: no MNIST files found: using the MNIST test set shipped with netcore "
        "(10,000 images, no download)."
    ) in stdout


# --------------------------------------------------------------------------- errors
def test_missing_data_folder_exits_1_with_one_line(tmp_path, capsys):
    rc, stdout, err = run(capsys, "train", "--dataset", "mnist", "--data", str(tmp_path / "nope"))
    assert rc == 1
    assert err == f"netcore: error: data folder {tmp_path / 'nope'} does not exist\n"
    assert not (tmp_path / "out").exists()  # nothing written for a failed run


def test_output_folder_that_is_a_file_exits_1(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=20)
    (tmp_path / "taken").write_text("a file")
    rc, out, err = run(
        capsys, "train", "--dataset", "mnist", "--data", str(data), "--out", str(tmp_path / "taken")
    )
    assert rc == 1 and err.startswith("netcore: error: cannot create the output folder")
    assert str(tmp_path / "taken") in err and "--out" in err
    assert "Epoch" not in out  # refused before training
    rc, _, err = run(capsys, "linear", "--out", str(tmp_path / "taken" / "sub"))
    assert rc == 1 and err.count("\n") == 1


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="needs a user whom file permissions bind (not root)",
)
def test_unwritable_output_folder_is_refused_before_training(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=20)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        rc, out, err = run(
            capsys, "train", "--dataset", "mnist", "--data", str(data), "--out", str(locked)
        )
    finally:
        locked.chmod(0o700)
    assert rc == 1 and err.startswith(f"netcore: error: cannot write to the output folder {locked}")
    assert "Epoch" not in out


def test_output_folder_checked_with_a_real_write(tmp_path, capsys, monkeypatch):
    # Where permissions cannot be taken away (root), a failing write stands in for them.
    import tempfile as tempfile_module

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    data = make_idx_folder(tmp_path / "mnist", n_test=20)
    monkeypatch.setattr(tempfile_module, "TemporaryFile", refuse)
    rc, out, err = run(
        capsys, "train", "--dataset", "mnist", "--data", str(data), "--out", str(tmp_path / "run")
    )
    assert rc == 1
    assert err == (
        f"netcore: error: cannot write to the output folder {tmp_path / 'run'}: "
        "Permission denied; choose another with --out\n"
    )
    assert "Epoch" not in out


def test_non_finite_loss_is_one_line(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=40)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc, _, err = run(
            capsys,
            "train",
            "--dataset",
            "mnist",
            "--data",
            str(data),
            *TINY,
            "--optimizer",
            "sgd",
            "--learning-rate",
            "1e30",
            "--out",
            str(tmp_path / "run"),
        )
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert rc == 1
    assert err.startswith("netcore: error: loss became") and err.count("\n") == 1


def test_folder_without_the_files_exits_1(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc, _, err = run(capsys, "train", "--dataset", "mnist", "--data", str(tmp_path / "empty"))
    assert rc == 1
    assert "MNIST not found in" in err and "t10k-images-idx3-ubyte.gz" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_nothing_found_anywhere_offline(capsys):
    rc, _, err = run(capsys, "train", "--dataset", "fashion-mnist")
    assert rc == 1
    lines = err.splitlines()
    assert lines[0].startswith("netcore: error: Fashion-MNIST not found in $NETCORE_DATA")
    assert "download failed" in lines[0]
    assert lines[1].startswith("  Pass the folder holding") and "--data FOLDER" in lines[1]
    assert len(lines) == 2 and ";" not in lines[1]


def test_multi_line_errors_keep_their_lines(capsys, monkeypatch):
    from netcore.errors import NetcoreError

    def fails(args):
        raise NetcoreError("first line\nSearched, in order:\n  1. here\n  2. there")

    monkeypatch.setattr(cli, "cmd_info", fails)
    rc, _, err = run(capsys, "info")
    assert rc == 1
    assert err == ("netcore: error: first line\n  Searched, in order:\n    1. here\n    2. there\n")


def test_corrupt_file_exits_1_naming_it(tmp_path, capsys):
    folder = make_idx_folder(tmp_path / "mnist", n_test=20)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8bnot really gzip")
    rc, _, err = run(capsys, "train", "--dataset", "mnist", "--data", str(folder))
    assert rc == 1
    assert "t10k-labels-idx1-ubyte.gz" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--dataset", "cifar10"],
        ["train"],
        ["train", "--dataset", "mnist", "--epochs", "0"],
        ["train", "--dataset", "mnist", "--validation-split", "1.5"],
        ["train", "--dataset", "mnist", "--hidden", "512,abc"],
        ["train", "--dataset", "mnist", "--backend", "tpu"],
        ["linear", "--learning-rate", "-1"],
        ["linear", "--steps", "20000"],
        ["linear", "--steps", "-1"],
        ["plot", "predictions"],
        ["plot", "samples", "--n", "0"],
        ["plot"],
        ["plot", "histogram"],
        ["frobnicate"],
        [],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    rc, _, err = run(capsys, *argv)
    assert rc == 2
    assert "usage: netcore" in err and "error:" in err


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["linear", "--learning-rate", "-1"],
            "--learning-rate: expected a positive number, got '-1'",
        ),
        (
            ["linear", "--learning-rate", "inf"],
            "--learning-rate: expected a positive number, got 'inf'",
        ),
        (
            ["linear", "--learning-rate", "fast"],
            "--learning-rate: expected a positive number, got 'fast'",
        ),
        (
            ["train", "--validation-split", "1"],
            "--validation-split: expected a number in [0, 1), got '1'",
        ),
        (
            ["train", "--validation-split", "nan"],
            "--validation-split: expected a number in [0, 1), got 'nan'",
        ),
    ],
)
def test_float_options_name_the_range_and_the_value_received(argv, message, capsys):
    rc, _, err = run(capsys, *argv)
    assert rc == 2
    assert f"argument {message}" in err


def test_help_and_version_exit_0(capsys):
    rc, out, _ = run(capsys, "--help")
    assert rc == 0 and "train" in out and "linear" in out and "info" in out
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and netcore.__version__ in out


def test_unavailable_cuda_backend_exits_1(tmp_path, capsys):
    if "cuda" in netcore.available_backends():
        pytest.skip("CUDA is usable here")
    data = make_idx_folder(tmp_path / "mnist", n_test=20)
    rc, _, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(data),
        "--backend",
        "cuda",
        "--out",
        str(tmp_path / "run"),
    )
    assert rc == 1
    assert err.startswith("netcore: error: backend 'cuda' is unavailable")
    assert err.count("\n") == 1


def test_debug_shows_the_traceback(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc, _, err = run(
        capsys, "--debug", "train", "--dataset", "mnist", "--data", str(tmp_path / "empty")
    )
    assert rc == 1 and "Traceback" in err and "netcore: error:" in err
    rc, _, err = run(
        capsys, "train", "--debug", "--dataset", "mnist", "--data", str(tmp_path / "empty")
    )
    assert rc == 1 and "Traceback" in err


@pytest.mark.gpu
def test_train_on_cuda(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=100)
    out = tmp_path / "run"
    rc, stdout, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(data),
        *TINY,
        "--backend",
        "cuda",
        "--out",
        str(out),
    )
    assert rc == 0, err
    assert "backend: cuda (" in stdout
    record = json.loads((out / "history.json").read_text())
    assert record["config"]["backend"].startswith("cuda")
    assert np.isfinite(record["final"]["val_loss"])
    assert netcore.load_model(out / "model.netcore").predict(np.zeros((1, 28, 28))).shape == (1, 10)


def test_netcore_backend_environment_variable_is_the_default(tmp_path, capsys, monkeypatch):
    data = make_idx_folder(tmp_path / "mnist", n_test=40)
    rc, stdout, _ = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(data),
        *TINY,
        "--out",
        str(tmp_path / "run"),
    )
    assert rc == 0 and "backend: cpu" in stdout
    monkeypatch.setenv("NETCORE_BACKEND", "gpu")
    rc, _, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(data),
        *TINY,
        "--out",
        str(tmp_path / "run"),
    )
    assert rc == 1 and "NETCORE_BACKEND" in err


def test_unexpected_exception_is_one_line_and_points_to_debug(monkeypatch, capsys):
    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "cmd_info", boom)
    rc, _, err = run(capsys, "info")
    assert rc == 1
    assert err == (
        "netcore: error: ZeroDivisionError: division by zero "
        "(unexpected: rerun with --debug for the traceback)\n"
    )


# --------------------------------------------------------------------------- linear
def test_linear_prints_the_course_numbers(tmp_path, capsys):
    rc, out, err = run(capsys, "linear", "--steps", "3", "--out", str(tmp_path / "lin"))
    assert rc == 0, err
    lines = out.splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.split()[:3] == ["x", "y", "y-hat"])
    table = [ln.split() for ln in lines[header + 1 : header + 3]]
    assert table == [["1", "3", "4", "1"], ["2", "5", "3", "4"]]  # x, y, y-hat, squared error
    assert "MSE  = (1 + 4) / 2 = 2.5" in out
    assert "RMSE = sqrt(MSE) = 1.5811 (about 1.58)" in out
    assert "dMSE/dm = -3\n" in out and "dMSE/db = -1\n" in out
    assert "step 1: m = -1 - 0.1 * (-3) = -0.7, b = 5 - 0.1 * (-1) = 5.1" in out
    rows = step_rows(out)
    assert [r[0] for r in rows] == ["0", "1", "2", "3"]  # start + 3 steps
    assert rows[0][1:] == ["-1", "5", "2.5", "1.5811", "-3", "-1"]
    assert rows[1][1:3] == ["-0.7", "5.1"]
    assert len(rows[3]) == 5  # no gradient after the last
    assert "The loss went down" in out and "OVERSHOOT" not in out
    assert_png(tmp_path / "lin" / "linear_fit.png", 10_000)
    assert_png(tmp_path / "lin" / "loss_surface.png", 10_000)
    assert_png(tmp_path / "lin" / "loss_contour.png", 10_000)


def test_linear_zero_steps_says_nothing_changed(tmp_path, capsys):
    rc, out, err = run(capsys, "linear", "--steps", "0", "--out", str(tmp_path / "lin"))
    assert rc == 0, err
    assert "The loss went down" not in out and "OVERSHOOT" not in out
    assert "No update was made (0 steps): MSE stays 2.5 at m = -1, b = 5." in out
    assert "dMSE/dm = -3 (hand formula: no update was run)" in out
    assert [r[0] for r in step_rows(out)] == ["0"]


def test_linear_help_shows_a_zigzag_rate_and_the_blow_up_rate(capsys):
    rc, out, _ = run(capsys, "linear", "--help")
    assert rc == 0
    text = " ".join(out.split())
    assert "try 0.28 to see the steps zig-zag across the valley" in text and "and 2 to" in text


def test_linear_zigzag_rate_crosses_the_valley_and_still_converges(tmp_path, capsys):
    from netcore.course import linear

    walk = linear.run_walkthrough(linear.ZIGZAG_LEARNING_RATE, 20)
    # Along the valley's steep direction (the Hessian's top eigenvector) the distance to the
    # minimum flips sign at every step: a zig-zag across the valley ...
    a = np.stack([linear.X, np.ones_like(linear.X)], axis=1)
    steep = np.linalg.eigh(a.T @ a)[1][:, -1]
    across = [
        float(np.dot(steep, (s.m - linear.BEST[0], s.b - linear.BEST[1]))) for s in walk.steps
    ]
    assert all(u * v < 0 for u, v in zip(across, across[1:]))
    # ... while the loss still comes down: the rate is under the stable limit.
    assert walk.steps[-1].mse < walk.steps[0].mse / 2
    assert linear.ZIGZAG_LEARNING_RATE < linear.stable_learning_rate()


def test_linear_learning_rate_2_overshoots(tmp_path, capsys):
    rc, out, err = run(
        capsys, "linear", "--learning-rate", "2", "--steps", "4", "--out", str(tmp_path / "lin")
    )
    assert rc == 0, err
    assert "OVERSHOOT: the loss grows" in out
    assert "step 1: m = -1 - 2 * (-3) = 5, b = 5 - 2 * (-1) = 7" in out
    mses = [float(r[3]) for r in step_rows(out)]
    assert mses[:2] == [2.5, 112.5]
    assert all(b > a for a, b in zip(mses, mses[1:]))
    assert_png(tmp_path / "lin" / "loss_contour.png")


def test_linear_diverging_run_stops_cleanly(tmp_path, capsys):
    rc, out, err = run(
        capsys, "linear", "--learning-rate", "2", "--steps", "500", "--out", str(tmp_path / "lin")
    )
    assert rc == 0, err
    assert "the loss overflowed and training stopped" in out
    assert "Warning" not in err


def test_walkthrough_gradients_are_netcores_and_match_the_hand_formula():
    from netcore.course import linear as lw

    walk = lw.run_walkthrough(learning_rate=0.05, steps=6)
    assert len(walk.steps) == 7 and not walk.overshoot
    for s in walk.steps[:-1]:
        gm, gb = lw.analytic_gradients(s.m, s.b)
        assert s.grad_m == pytest.approx(gm, rel=1e-12, abs=1e-12)
        assert s.grad_b == pytest.approx(gb, rel=1e-12, abs=1e-12)
        assert s.mse == pytest.approx(float(lw.mse_surface(s.m, s.b)), rel=1e-12)
    for a, b in zip(walk.steps, walk.steps[1:]):  # each step is m - lr * dMSE/dm
        assert a.grad_m is not None and a.grad_b is not None
        assert b.m == pytest.approx(a.m - 0.05 * a.grad_m, abs=1e-12)
        assert b.b == pytest.approx(a.b - 0.05 * a.grad_b, abs=1e-12)
    assert lw.stable_learning_rate() == pytest.approx(0.2918, abs=1e-4)


# --------------------------------------------------------------------------- plot, info
def test_plot_activations(tmp_path, capsys):
    rc, out, err = run(capsys, "plot", "activations", "--out", str(tmp_path / "figs"))
    assert rc == 0, err
    assert "softmax([2, 1, 0.1]) = [0.659, 0.242, 0.099]" in out
    assert_png(tmp_path / "figs" / "activations.png", 20_000)


def test_plot_samples_from_a_data_folder(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "fashion", n_test=30)
    rc, out, err = run(
        capsys,
        "plot",
        "samples",
        "--dataset",
        "fashion-mnist",
        "--data",
        str(data),
        "--n",
        "12",
        "--out",
        str(tmp_path / "figs"),
    )
    assert rc == 0, err
    assert f"Wrote {tmp_path / 'figs' / 'samples.png'}" in out
    assert_png(tmp_path / "figs" / "samples.png", 10_000)


def test_plot_samples_with_no_data_uses_the_shipped_mnist(tmp_path, capsys):
    rc, out, err = run(capsys, "plot", "samples", "--out", str(tmp_path / "figs"))
    assert rc == 0, err
    assert "Note: no MNIST files found" in out
    assert_png(tmp_path / "figs" / "samples.png", 10_000)


@pytest.mark.parametrize("figure", ["overfitting", "xent"])
def test_plot_concept_figures(tmp_path, capsys, figure):
    rc, out, err = run(capsys, "plot", figure, "--out", str(tmp_path / "figs"))
    assert rc == 0, err
    assert_png(tmp_path / "figs" / f"{figure}.png", 10_000)


def test_plot_predictions_of_a_trained_model_on_its_validation_images(tmp_path, capsys):
    data = make_idx_folder(tmp_path / "mnist", n_test=100)
    run_dir = tmp_path / "run"
    rc, _, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(data),
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--hidden",
        "32",
        "--out",
        str(run_dir),
    )
    assert rc == 0, err
    rc, out, err = run(
        capsys,
        "plot",
        "predictions",
        "--model",
        str(run_dir / "model.netcore"),
        "--n",
        "20",
        "--out",
        str(tmp_path / "figs"),
    )
    assert rc == 0, err
    # The 20 validation images of the run (100 images, split 80/20 with seed 0).
    right = int(out.split(" of 20 validation images predicted right")[0].split()[-1])
    assert 0 <= right <= 20
    assert_png(tmp_path / "figs" / "predictions.png", 10_000)


def test_plot_predictions_after_training_on_the_shipped_set(tmp_path, capsys):
    run_dir = tmp_path / "run"
    rc, _, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--no-download",
        *TINY,
        "--limit",
        "300",
        "--out",
        str(run_dir),
    )
    assert rc == 0, err
    rc, out, err = run(
        capsys,
        "plot",
        "predictions",
        "--model",
        str(run_dir / "model.netcore"),
        "--out",
        str(tmp_path / "figs"),
    )
    assert rc == 0, err
    assert "of 25 validation images predicted right" in out
    assert_png(tmp_path / "figs" / "predictions.png", 10_000)


def test_plot_predictions_without_a_model_exits_1(tmp_path, capsys):
    rc, _, err = run(capsys, "plot", "predictions", "--model", str(tmp_path / "none.netcore"))
    assert rc == 1
    assert err.startswith(f"netcore: error: model file {tmp_path / 'none.netcore'} does not exist")
    (tmp_path / "lone").mkdir()
    (tmp_path / "lone" / "model.netcore").write_bytes(b"")
    rc, _, err = run(
        capsys, "plot", "predictions", "--model", str(tmp_path / "lone" / "model.netcore")
    )
    assert rc == 1 and "needs the history.json" in err


def test_info(capsys, monkeypatch):
    rc, out, err = run(capsys, "info")
    assert rc == 0, err
    assert out.startswith(f"netcore {netcore.__version__}")
    assert "  cpu   available" in out and "  cuda  " in out
    for key in ("GPU", "CuPy:", "numba:", "numba-cuda:", "CUDA simulator: off"):
        assert key in out
    ok, reason = netcore.backend_status()["cuda"]
    assert reason in out  # why CUDA is (or is not) usable
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    monkeypatch.setenv("NETCORE_BACKEND", "cuda")
    rc, out, _ = run(capsys, "info")
    assert "Default backend: cuda (from NETCORE_BACKEND)" in out
    assert rc == 0 and "CUDA simulator: ON (NUMBA_ENABLE_CUDASIM=1)" in out


# --------------------------------------------------------------------------- no matplotlib
@pytest.fixture
def no_matplotlib(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith(("matplotlib.", "mpl_toolkits")):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now raises ImportError


def test_without_matplotlib_commands_still_do_the_rest(tmp_path, capsys, no_matplotlib):
    rc, out, err = run(capsys, "linear", "--steps", "1", "--out", str(tmp_path / "lin"))
    assert rc == 0
    assert "MSE  = (1 + 4) / 2 = 2.5" in out
    assert "plots skipped" in err and "pip install 'netcore[plot]'" in err
    assert not list((tmp_path / "lin").glob("*.png"))

    data = make_idx_folder(tmp_path / "mnist", n_test=40)
    rc, out, err = run(
        capsys,
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(data),
        *TINY,
        "--out",
        str(tmp_path / "run"),
    )
    assert rc == 0
    assert "pip install 'netcore[plot]'" in err
    assert (tmp_path / "run" / "model.netcore").is_file()
    assert (tmp_path / "run" / "history.json").is_file()
    assert not list((tmp_path / "run").glob("*.png"))

    rc, out, err = run(capsys, "plot", "activations", "--out", str(tmp_path / "figs"))
    assert rc == 1
    assert err.startswith("netcore: error: plotting needs matplotlib")
    assert "pip install 'netcore[plot]'" in err and err.count("\n") == 1


# --------------------------------------------------------------------------- subprocess
def _subprocess(*argv: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NETCORE_DATA", "NUMBA_ENABLE_CUDASIM")}
    env.update(extra_env)
    env["XDG_CACHE_HOME"] = str(cwd / "cache")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "TkAgg"  # a GUI backend and no display: plots must not depend on it
    env.pop("DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "netcore", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_python_m_netcore_end_to_end(tmp_path):
    data = make_idx_folder(tmp_path / "mnist", n_test=60)
    proc = _subprocess(
        "train", "--dataset", "mnist", "--data", str(data), *TINY, "--out", "run", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "48 test-set images to train on, 12 to validate on" in proc.stdout
    assert_png(tmp_path / "run" / "loss.png")
    assert json.loads((tmp_path / "run" / "history.json").read_text())["epochs"] == [1]

    proc = _subprocess("linear", "--steps", "1", cwd=tmp_path)  # default --out out/linear
    assert proc.returncode == 0, proc.stderr
    assert "m = -1 - 0.1 * (-3) = -0.7, b = 5 - 0.1 * (-1) = 5.1" in proc.stdout
    assert_png(tmp_path / "out" / "linear" / "loss_surface.png")


def test_cuda_backend_under_the_simulator(tmp_path):
    pytest.importorskip("numba.cuda", reason="numba's CUDA target (numba-cuda) is not installed")
    data = make_idx_folder(tmp_path / "mnist", n_test=40)
    proc = _subprocess(
        "train",
        "--dataset",
        "mnist",
        "--data",
        str(data),
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--hidden",
        "8",
        "--backend",
        "cuda",
        "--out",
        "run",
        cwd=tmp_path,
        NUMBA_ENABLE_CUDASIM="1",
    )
    assert proc.returncode == 0, proc.stderr
    assert "backend: cuda (SIMULATED" in proc.stdout
    assert json.loads((tmp_path / "run" / "history.json").read_text())["config"][
        "backend"
    ].startswith("cuda")
    proc = _subprocess("info", cwd=tmp_path, NUMBA_ENABLE_CUDASIM="1")
    assert proc.returncode == 0 and "CUDA simulator: ON" in proc.stdout


def test_python_m_netcore_exit_codes(tmp_path):
    proc = _subprocess(
        "train", "--dataset", "mnist", "--data", str(tmp_path / "missing"), cwd=tmp_path
    )
    assert proc.returncode == 1
    assert proc.stderr == f"netcore: error: data folder {tmp_path / 'missing'} does not exist\n"
    proc = _subprocess("train", "--dataset", "mnist", "--batch-size", "many", cwd=tmp_path)
    assert proc.returncode == 2
    assert "argument --batch-size: expected a positive integer, got 'many'" in proc.stderr
