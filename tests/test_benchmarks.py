"""Keep the benchmark suite from rotting: import every module, run each benchmark kind once at a
tiny size, and run compare.py / plot_results.py end to end on a tiny epoch.

Timings are not checked (this machine is shared and noisy); only that the code runs, that the
unavailable device is skipped the asv way, and that netcore and PyTorch do the same work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# ``benchmarks`` is a top-level folder, not part of the installed package: import it from the
# repository root whatever directory pytest was started from.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import _common as common  # noqa: E402
from benchmarks import _device_check_conv as device_check_conv  # noqa: E402
from benchmarks import _device_check_report as device_check_report  # noqa: E402
from benchmarks import bench_ops, bench_training, compare, device_check, plot_results  # noqa: E402


def _cuda_really_available() -> bool:
    try:
        common.check_backend("cuda")
    except common.Unavailable:
        return False
    return True


def test_cuda_params_skip_the_asv_way_when_unusable() -> None:
    if _cuda_really_available():
        pytest.skip("a GPU is usable here; nothing to skip")
    with pytest.raises(NotImplementedError, match="cuda"):
        bench_training.TrainStep().setup("cuda", 32)
    with pytest.raises(NotImplementedError, match="cuda"):
        bench_ops.FusedOps().setup("cuda", 32)


def test_simulator_counts_as_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    with pytest.raises(common.Unavailable, match="simulator"):
        common.check_backend("cuda")


def test_training_benchmarks_run_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    b = 32
    step = bench_training.TrainStep()
    step.setup("cpu", b)
    step.time_train_step("cpu", b)
    step.time_train_on_batch("cpu", b)
    assert step.track_train_step_samples_per_second("cpu", b) > 0

    pred = bench_training.Predict()
    pred.setup("cpu", b)
    pred.time_predict("cpu", b)

    monkeypatch.setattr(bench_training.Epoch, "samples", 3 * b + 5)  # last batch short
    epoch = bench_training.Epoch()
    epoch.setup("cpu", b)
    epoch.time_epoch("cpu", b)
    epoch.peakmem_epoch("cpu", b)
    with pytest.raises(NotImplementedError):
        bench_training.EpochDeviceMemory().setup("cpu", b)

    floor = bench_training.GemmFloor()
    floor.setup("cpu", b)
    floor.time_gemm_step("cpu", b)
    assert floor.track_gemm_gflops("cpu", b) > 0
    assert floor.track_train_step_over_gemm_floor("cpu", b) > 0


def test_gemm_floor_computes_the_training_products() -> None:
    floor = common.StepGemms("cpu", 16)
    x = np.random.default_rng(0).random((16, common.N_FEATURES), dtype=np.float32)
    floor.step(x)
    h1 = x @ floor.weights[0]
    h2 = h1 @ floor.weights[1]
    out = h2 @ floor.weights[2]
    np.testing.assert_allclose(floor.grads[2], h2.T @ out, rtol=1e-4)
    np.testing.assert_allclose(
        floor.grads[0],
        x.T @ ((out @ floor.weights[2].T) @ floor.weights[1].T),
        rtol=1e-3,
        atol=1e-3,
    )
    assert common.StepGemms.flops_per_sample() == 2 * (2 * 668_672 + 267_264)


@pytest.mark.parametrize("op", bench_ops.OPS)
def test_fused_and_unfused_ops_agree(op: str) -> None:
    be = common.build_backend("cpu")
    shape = (37, 11)
    fused, ref = bench_ops.OpCase(be, op, shape), bench_ops.OpCase(be, op, shape)
    ret_f, ret_r = fused.fused(), ref.unfused()
    for a, b in zip(fused.outputs, ref.outputs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    if op in ("softmax_xent", "sigmoid_bce"):  # the mean loss comes back as a 0-d array
        np.testing.assert_allclose(float(ret_f[0]), float(ret_r[0]), rtol=1e-5)
    assert fused.bytes_moved > 0


def test_op_benchmarks_run_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    ops = bench_ops.FusedOps()
    ops.setup("cpu", 32)
    for name in dir(ops):
        if name.startswith("time_"):
            getattr(ops, name)("cpu", 32)
    adam = bench_ops.AdamModelStep()
    adam.setup("cpu")
    assert adam.params_total == 669_706
    adam.time_adam_step("cpu")
    adam.time_adam_step_unfused("cpu")
    adam.time_adam_step_flat("cpu")
    adam.time_adam_step_flat_unfused("cpu")
    monkeypatch.setattr(bench_ops, "BIG_SHAPE", (64, 48))
    bw = bench_ops.KernelBandwidth()
    bw.setup("cpu", "bias_act")
    assert bw.track_bytes_per_second("cpu", "bias_act") > 0
    assert bw.track_unfused_bytes_per_second("cpu", "bias_act") > 0
    assert bw.track_fraction_of_copy("cpu", "bias_act") > 0


def _run_compare(tmp_path, *extra: str) -> dict:
    out = tmp_path / "compare.json"
    rc = compare.main(
        [
            "--device",
            "cpu",
            "--epochs-samples",
            "300",
            "--batch-sizes",
            "64,128",
            "--repeats",
            "2",
            "--json",
            str(out),
            *extra,
        ]
    )
    assert rc == 0
    return json.loads(out.read_text())


def test_compare_without_torch_and_plot(tmp_path) -> None:
    data = _run_compare(tmp_path, "--no-torch")
    assert [r["batch_size"] for r in data["results"]] == [64, 128]
    r = data["results"][0]
    assert r["median_s"]["torch"] is None and r["ratio_netcore_over_gemm"] > 0
    # merge a CPU file and a (relabelled) GPU file into one plot
    gpu = json.loads(json.dumps(data))
    for row in gpu["results"]:
        row["device"] = "cuda"
    gpu["machine"]["gpu"] = "test GPU"
    cpu_path, gpu_path = tmp_path / "cpu.json", tmp_path / "gpu.json"
    cpu_path.write_text(json.dumps(data))
    gpu_path.write_text(json.dumps(gpu))
    png = tmp_path / "plot.png"
    assert plot_results.main([str(cpu_path), str(gpu_path), "-o", str(png), "--markdown"]) == 0
    assert png.stat().st_size > 1000
    rows, _ = plot_results.load([cpu_path, gpu_path])
    assert set(rows) == {("cpu", 64), ("cpu", 128), ("cuda", 64), ("cuda", 128)}


def test_compare_matches_pytorch_loss(tmp_path) -> None:
    pytest.importorskip(
        "torch", reason="PyTorch not installed (the oracle extra: pip install torch==2.13.0)"
    )
    data = _run_compare(tmp_path)
    for r in data["results"]:
        lf = r["loss_first_epoch"]
        assert lf["match"], lf
        assert r["lockstep"]["match"] and r["lockstep"]["max_rel_loss_diff"] < 1e-5, r["lockstep"]
        assert r["ratio_netcore_over_torch"] > 0


def test_compare_catches_different_work(tmp_path, capsys) -> None:
    """A 10% different learning rate on the PyTorch side must fail the lockstep check."""
    pytest.importorskip(
        "torch", reason="PyTorch not installed (the oracle extra: pip install torch==2.13.0)"
    )
    rc = compare.main(
        [
            "--device",
            "cpu",
            "--epochs-samples",
            "640",
            "--batch-sizes",
            "64",
            "--repeats",
            "1",
            "--lockstep-steps",
            "10",
            "--torch-lr-scale",
            "1.1",
        ]
    )
    assert rc == 1
    assert "LOCKSTEP MISMATCH" in capsys.readouterr().out


def test_compare_skips_cuda_with_a_message(capsys) -> None:
    if _cuda_really_available():
        pytest.skip("a GPU is usable here")
    assert compare.main(["--device", "cuda", "--epochs-samples", "64"]) == 2
    assert "skipping device cuda" in capsys.readouterr().out


def test_torch_adam_epsilon_matches_keras_form() -> None:
    torch = pytest.importorskip(
        "torch", reason="PyTorch not installed (the oracle extra: pip install torch==2.13.0)"
    )
    model = common.build_model("cpu")
    tt = compare.TorchTrainer(torch, "cpu", model.get_weights())
    x, y = common.make_data(96)
    tx, ty = tt.tensors(x, y)
    tt.epoch(tx, ty, 32)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    linears = [m for m in tt.model if isinstance(m, torch.nn.Linear)]
    for k, lin in zip(model.get_weights()[0::2], linears):
        np.testing.assert_allclose(k, lin.weight.detach().numpy().T, rtol=1e-3, atol=1e-5)


def test_benchmark_package_has_no_stray_benchmark_names() -> None:
    """asv takes any time_/track_/peakmem_/mem_ name for a benchmark: only the bench modules may have them."""
    prefixes = ("time_", "track_", "peakmem_", "mem_", "timeraw_")
    for mod in (common, compare, plot_results, device_check, device_check_report):
        stray = [n for n in dir(mod) if n.startswith(prefixes)]
        assert not stray, (mod.__name__, stray)
    assert os.path.exists(os.path.join(os.path.dirname(common.__file__), "..", "asv.conf.json"))


def test_device_check_smoke_runs_every_section_under_the_simulator(tmp_path) -> None:
    """The GPU script's dry run: a Python error here would otherwise cost a GPU session.

    The pytest section is skipped (it collects the whole suite; under the simulator every
    ``gpu`` test is skipped anyway).
    """
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "device_check.py"),
            "--smoke",
            "--skip",
            "pytest",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    res = json.loads((tmp_path / "device_check.json").read_text())
    assert res["failures"] == []
    assert {k: v["status"] for k, v in res["sections"].items()} == dict.fromkeys(
        ["device", "kernels", "launch", "capture", "selfcheck", "compare", "compare_cnn"], "ok"
    )
    assert res["meta"]["simulated"] is True
    assert res["meta"]["commit"] and res["meta"]["date"] and "tree_clean" in res["meta"]
    assert "replayed step differs" in res["selfcheck"]["frozen_rate_caught"]
    timed = {r["op"] for r in res["kernels"] if "fused_us" in r}
    assert timed and timed == {r["op"] for r in res["targets"]}
    conv = res["conv_kernels"]  # every convolutional kernel timed, each matching its reference
    assert {r["op"] for r in conv if "fused_us" in r} == set(bench_ops.ConvLayerOps.OP_NAMES) | set(
        device_check_conv.WARP_OP_NAMES
    )
    assert all(r["max_rel_diff"] < 1e-4 for r in conv)
    assert res["compare"]["rc"] == 0
    assert any(line.startswith("cpu") for line in res["compare"]["table"])
    cmp = json.loads((tmp_path / "compare.json").read_text())
    assert [r["batch_size"] for r in cmp["results"]] == [64]
    assert "## One epoch of the course MLP" in (tmp_path / "device_check.md").read_text()
    assert res["compare_cnn"]["rc"] == 0 and set(res["compare_cnn"]["step_ms"]) == {"8"}
    assert "## One training step of the course CNN" in (tmp_path / "device_check.md").read_text()
    assert [r["batch_size"] for r in res["capture"]] == [64] and res["capture"][0]["eager_s"] > 0


def test_device_check_targets_say_met_and_missed_at_the_thresholds() -> None:
    results = {
        "meta": {"launch_path": "raw"},
        "kernels": [
            {"op": "a", "shape": "8x8", "pct_copy": 99.0},
            {"op": "a", "shape": "8192x4096", "pct_copy": device_check_report.TARGET_PCT_COPY},
            {"op": "b", "shape": "8192x4096", "pct_copy": 69.9},
        ],
        "launch": [
            {"what": "backend op: a", "path": "raw", "host_us": 20.1},
            {"what": "backend op: a", "path": "numba", "host_us": 1.0},
            {"what": "backend op: b", "path": "raw", "host_us": device_check_report.TARGET_HOST_US},
        ],
    }
    rows = {r["op"]: r for r in device_check_report.targets(results)}
    assert rows["a"]["bw_target"] == "met" and rows["a"]["launch_target"] == "MISSED"
    assert rows["b"]["bw_target"] == "MISSED" and rows["b"]["launch_target"] == "met"
    assert rows["a"]["shape"] == "8192x4096" and rows["a"]["host_us"] == 20.1


def test_torch_variants_compile_only_on_the_gpu_unless_asked() -> None:
    assert compare.torch_variants("cpu", "auto") == ["torch"]
    assert compare.torch_variants("cuda", "auto") == ["torch", "torch_compile"]
    assert compare.torch_variants("cpu", "on") == ["torch", "torch_compile"]
    assert compare.torch_variants("cuda", "off") == ["torch"]


def test_torch_trainer_reset_replays_the_same_epoch() -> None:
    """The lockstep check and the timed epochs share one trainer through ``reset``: after it,
    the same batches must give the same losses and weights as the first time."""
    torch = pytest.importorskip(
        "torch", reason="PyTorch not installed (the oracle extra: pip install torch==2.13.0)"
    )
    weights = common.build_model("cpu").get_weights()
    tt = compare.TorchTrainer(torch, "cpu", weights)
    x, y = tt.tensors(*common.make_data(80))
    first = tt.step_losses(x, y, 32)
    kernels = tt.kernels()
    tt.reset(weights)
    np.testing.assert_array_equal(tt.kernels()[0], weights[0])
    assert tt.steps == 0 and not tt.opt.state
    assert tt.step_losses(x, y, 32) == first
    for a, b in zip(tt.kernels(), kernels):
        np.testing.assert_array_equal(a, b)


def test_torch_compile_that_cannot_run_is_reported_not_fatal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch = pytest.importorskip(
        "torch", reason="PyTorch not installed (the oracle extra: pip install torch==2.13.0)"
    )

    def no_compiler(fn, **kwargs):
        def call(*args, **kw):
            raise RuntimeError("no C++ compiler found")

        return call

    monkeypatch.setattr(torch, "compile", no_compiler)
    monkeypatch.setattr(torch._dynamo, "reset", lambda: None)
    x, y = common.make_data(70)
    state = {
        "device": "cpu",
        "batch_size": 32,
        "weights": common.build_model("cpu").get_weights(),
        "x": x,
        "y": y,
        "trainers": {},
    }
    why = compare._torch_setup(torch, state, "torch_compile", 1.0)
    assert why is not None and "reduce-overhead" in why and "no C++ compiler found" in why
    assert "torch_compile" not in state["trainers"]
    assert compare._torch_setup(torch, state, "torch", 1.0) is None  # eager still runs
    assert state["tx"].shape == (70, common.N_FEATURES)


def _row(
    device: str, b: int, nc: float, torch: float | None, gemm: float, compiled: float | None = None
) -> dict:
    med = {"netcore": nc, "torch": torch, "gemm": gemm}
    row = {
        "device": device,
        "batch_size": b,
        "median_s": med,
        "netcore_samples_per_s": 1.0,
        "ratio_netcore_over_torch": nc / torch if torch else None,
        "ratio_netcore_over_gemm": nc / gemm,
    }
    if compiled is not None:
        med["torch_compile"] = compiled
        row["ratio_netcore_over_torch_compile"] = nc / compiled
    return row


def test_targets_name_each_contender_and_verdict() -> None:
    lines = compare.check_targets(
        [
            _row("cpu", 128, 1.0, 2.0, 0.8),
            _row("cuda", 128, 0.3, 1.0, 0.1, compiled=0.25),
            _row("cuda", 8192, 1.0, 1.0, 1.0, compiled=1.0),  # no target at this batch size
        ]
    )
    assert lines == [
        "target cpu b=128: netcore/torch = 0.500 (<= 0.45) MISSED by 11%",
        "target cpu b=128: netcore/gemm floor = 1.250 (<= 1.3) MET",
        "target cuda b=128: netcore/torch = 0.300 (<= 0.5) MET",
        "target cuda b=128: netcore/torch.compile = 1.200 (<= 1.0) MISSED by 20%",
    ]


def test_table_shows_compile_columns_only_when_measured() -> None:
    plain: list[str] = []
    both: list[str] = []
    compare.print_table([_row("cpu", 32, 1.0, 2.0, 0.5)], print_fn=plain.append)
    compare.print_table([_row("cuda", 32, 1.0, 2.0, 0.5, compiled=4.0)], print_fn=both.append)
    assert "compile" not in plain[0] and len(plain) == 3
    assert "nc/compile" in both[0]
    assert both[2].split()[-3:] == ["4.000", "0.250", "-"]


@pytest.mark.slow
def test_compare_torch_compile_does_the_same_work_on_cpu(tmp_path) -> None:
    """The torch.compile contender's code path, end to end (Inductor's CPU code: slow)."""
    pytest.importorskip(
        "torch", reason="PyTorch not installed (the oracle extra: pip install torch==2.13.0)"
    )
    out = tmp_path / "compare.json"
    rc = compare.main(
        [
            "--device",
            "cpu",
            "--epochs-samples",
            "130",
            "--batch-sizes",
            "64",
            "--repeats",
            "1",
            "--lockstep-steps",
            "2",
            "--torch-compile",
            "on",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    r = json.loads(out.read_text())["results"][0]
    assert r["lockstep_torch_compile"]["match"], r["lockstep_torch_compile"]
    assert r["loss_first_epoch_torch_compile"]["match"], r["loss_first_epoch_torch_compile"]
    assert r["median_s"]["torch_compile"] > 0 and r["ratio_netcore_over_torch_compile"] > 0
