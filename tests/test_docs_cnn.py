"""Every number of docs/cnn.md's comparison tables and of docs/benchmarks.md's CNN section is
what its committed result file holds (the pattern of test_docs.py)."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

from test_docs import _states

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RUN_OF = {
    ("MNIST (bundled)", "convolutional"): "mnist",
    ("MNIST (bundled)", "dense"): "mnist_dense",
    ("Fashion-MNIST", "convolutional"): "fashion",
    ("Fashion-MNIST", "dense"): "fashion_dense",
}


def _runs() -> dict:
    return json.loads((RESULTS / "cnn_accuracy_cpu.json").read_text())["runs"]


def _params(run: str, rec: dict) -> int:
    if "params" in rec:
        return int(rec["params"])
    from netcore.course import build_cnn, build_mlp

    model = build_cnn(10) if not run.endswith("_dense") else build_mlp(10)
    model.build()
    return int(model.count_params())


def test_dense_against_convolutional_table_states_the_result_file():
    text = (ROOT / "docs" / "cnn.md").read_text()
    rows = re.findall(
        r"^\| (MNIST \(bundled\)|Fashion-MNIST) \| (dense|convolutional) \|(.+)\|$", text, re.M
    )
    runs = _runs()
    assert {RUN_OF[(d, n)] for d, n, _ in rows} >= {"mnist", "mnist_dense"}
    for data, network, rest in rows:
        run = RUN_OF[(data, network)]
        rec = runs[run]
        per = rec["per_epoch"]
        held = per[f"{rec['held_out']}_accuracy"]
        params, epochs, train_acc, held_acc, gap, seconds = (c.strip() for c in rest.split("|"))
        assert int(params.replace(",", "")) == _params(run, rec), run
        done = len(per["loss"])
        assert epochs == (str(done) if done == rec["epochs"] else f"{done} of {rec['epochs']}")
        assert _states(train_acc, per["accuracy"][-1]), (run, train_acc)
        assert _states(held_acc, held[-1]), (run, held_acc)
        assert _states(gap, per["accuracy"][-1] - held[-1]), (run, gap)
        assert _states(seconds, statistics.median(per["seconds"])), (run, seconds)


def test_per_epoch_validation_accuracies_state_the_result_file():
    text = (ROOT / "docs" / "cnn.md").read_text()
    runs = _runs()
    for label, run in (("convolutional", "mnist"), ("dense", "mnist_dense")):
        row = re.search(rf"^\| {label}, validation accuracy \|(.+)\|$", text, re.M)
        assert row, f"docs/cnn.md has no per-epoch row for the {label} network"
        cells = [c.strip() for c in row.group(1).split("|")]
        acc = runs[run]["per_epoch"]["validation_accuracy"]
        assert len(cells) == len(acc)
        for cell, value in zip(cells, acc):
            assert _states(cell, value), (run, cell, value)


def test_cnn_benchmark_rows_state_compare_cnn_cpu():
    text = (ROOT / "docs" / "benchmarks.md").read_text()
    data = json.loads((RESULTS / "compare_cnn_cpu.json").read_text())
    by_batch = {r["batch_size"]: r for r in data["results"]}
    rows = re.findall(r"^\| CNN b=(\d+) \|(.+)\|$", text, re.M)
    assert sorted(int(b) for b, _ in rows) == [32, 128]
    for batch, rest in rows:
        r = by_batch[int(batch)]
        netcore_ms, torch_ms, ratio, gemm, lock = [c.strip() for c in rest.split("|")]
        assert _states(netcore_ms, r["step_ms"]["netcore"])
        assert _states(torch_ms, r["step_ms"]["torch"])
        assert _states(ratio, r["ratio_netcore_over_torch"])
        assert _states(gemm.rstrip("%"), 100 * r["netcore_profile"]["gemm_share"])
        assert _states(lock, r["lockstep"]["max_rel_loss_diff"])
