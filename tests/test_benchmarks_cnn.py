"""The course-CNN benchmarks run, and compare_cnn.py's PyTorch network is netcore's network:
same outputs from the same weights, same losses step by step."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import bench_training, cnn_accuracy, compare_cnn  # noqa: E402


def test_cnn_train_step_benchmark_trains():
    bench = bench_training.CNNTrainStep()
    bench.setup("cpu", 32)
    before = [w.copy() for w in bench.model.get_weights()]
    bench.time_cnn_train_step("cpu", 32)
    after = bench.model.get_weights()
    assert all(a.shape == b.shape for a, b in zip(before, after))
    assert not np.array_equal(before[0], after[0])  # the first kernel moved


def test_torch_copy_of_the_course_cnn_gives_netcores_outputs():
    torch = pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")
    model = compare_cnn.netcore_cnn()
    x, _, _ = compare_cnn.make_data(6)
    # Moving statistics away from 0 / 1, so that the inference path's mapping is checked too.
    weights = model.get_weights()
    rng = np.random.default_rng(5)
    for i in (4, 10, 16):  # moving means of the three batch norms
        weights[i] = rng.normal(0, 0.1, weights[i].shape).astype(np.float32)
        weights[i + 1] = rng.uniform(0.5, 2.0, weights[i + 1].shape).astype(np.float32)
    model.set_weights(weights)
    net = compare_cnn.torch_cnn(torch, weights, dropout=True).eval()
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x)), dim=1).numpy()
    np.testing.assert_allclose(np.asarray(model.predict(x)), expected, rtol=1e-4, atol=1e-6)


def test_compare_cnn_lockstep_and_profile(tmp_path, capsys):
    pytest.importorskip("torch", reason="PyTorch not installed (pip install torch==2.13.0)")
    out = tmp_path / "cmp.json"
    argv = ["--batch-sizes", "8", "--samples", "16", "--repeats", "1", "--lockstep-steps", "2"]
    assert compare_cnn.main([*argv, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    (r,) = data["results"]
    assert r["lockstep"]["match"] and r["lockstep"]["steps"] == 2
    # The first step starts from identical weights: only float32 rounding differs.
    assert abs(r["lockstep"]["netcore"][0] - r["lockstep"]["torch"][0]) < 1e-4
    prof = r["netcore_profile"]
    assert 0 < prof["gemm_share"] < 1
    assert set(prof["per_layer"]) == {layer.name for layer in compare_cnn.netcore_cnn().layers}
    assert data["commit"] and "clean" in data and data["machine"]["cores"]


def test_cnn_accuracy_records_each_run_beside_the_others(tmp_path):
    out = tmp_path / "acc.json"
    rec: dict[str, Any] = {
        "held_out": "test",
        "data": {"train": 10, "test": 5},
        "epochs": 2,
        "target": 0.9,
        "per_epoch": {"loss": [1.0], "accuracy": [0.5], "test_accuracy": [0.4], "seconds": [3.0]},
        "commit": "abcdef1234567",
        "clean": False,
        "machine": {"cpu": "X", "cores": 2},
        "date": "2026-01-01",
    }
    cnn_accuracy.save(out, "fashion", rec)
    cnn_accuracy.save(out, "mnist", {**rec, "held_out": "validation", "data": {"train": 8, "validation": 2}, "per_epoch": {**rec["per_epoch"], "validation_accuracy": [0.7]}})  # fmt: skip
    data = json.loads(out.read_text())
    assert set(data["runs"]) == {"fashion", "mnist"}
    md = out.with_suffix(".md").read_text()
    assert "| 1 | 1.0000 | 0.5000 | 0.4000 | 3 |" in md and "(uncommitted changes)" in md
    assert "1 of 2 epochs" in md
