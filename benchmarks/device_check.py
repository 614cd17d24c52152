#!/usr/bin/env python3
"""Device check for netcore's CUDA backend: one command, each check once, under 8 minutes on one card.

    PYTHONPATH=. python3 benchmarks/device_check.py --out out/device_check
    NUMBA_ENABLE_CUDASIM=1 PYTHONPATH=. python3 benchmarks/device_check.py --smoke --out /tmp/dc

Sections (each isolated: a failure prints ``FAIL <section>: why`` and the run goes on; the
exit code is 1 if any check failed):

1. device  -- the card, driver/runtime and library versions (``netcore.backend.report``), the
              backend's description.
2. pytest  -- ``pytest -m gpu tests/`` in a subprocess: every GPU test of the suite, among them
              each fused kernel against its NumPy reference on both launch paths (raw PTX via
              CuPy, numba's own). This is the one correctness check of the run.
3. kernels -- per fused op at 128x512, 1024x512, 8192x4096 float32: device time (CUDA events
              around back-to-back launches queued behind a ~ms matmul, so host launch cost is
              hidden; median of many), the unfused CuPy sequence it replaces (the base-class
              reference on CuPy), achieved bandwidth against a measured D2D copy; and the
              convolution, pooling and batch-norm kernels at the course CNN's shapes (batch 32
              and 128), each also checked against its reference (max relative difference).
4. launch  -- host-side cost per call (host clock, N back-to-back calls on tiny arrays) for:
              the backend op via each launch path, a bare launch of each path, numba's plain
              dispatch of CuPy arrays, a CuPy ElementwiseKernel, the unfused CuPy ops.
5. capture -- the course MLP's epoch trained eagerly (``jit_compile=False``) and captured
              (``jit_compile=True``: one CUDA graph per step, replayed) at batch 32, 128 and
              1024: wall time per epoch and per step, the host time of one replay call, and
              the first-epoch losses of the two (same weights, same batches).
6. selfcheck -- the captured step's self-check on this card (``capture_check``): a fresh
              model's first capture is checked against an eager step (it must pass under
              ``jit_compile=True``), its cost against a plain step, and a graph with a frozen
              Adam rate injected must be caught (``benchmarks/capture_check_cost.py``).
7. compare -- ``benchmarks/compare.py --device cuda``: netcore captured and eager against
              PyTorch (eager with fused Adam, and ``torch.compile(mode="reduce-overhead")``)
              and the GEMM floor on the course MLP at batch 32, 128 and 1024,
              lockstep-checked; its JSON is written beside this report as ``compare.json``.

8. compare_cnn -- ``benchmarks/compare_cnn.py --device cuda``: the course CNN (Conv2D,
              BatchNormalization, MaxPool2D; RMSprop) in netcore's CUDA step against PyTorch
              CUDA eager (cuDNN), same weights, lockstep-checked, batch 32 and 128; its JSON
              is written beside this report as ``compare_cnn.json``.

The JSON's ``meta`` records the commit (and whether the tree was clean), the card and the
date.

``--smoke`` shrinks every size so the whole script runs on a CPU under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``): GPU-only measurements are reported as SKIP there, the GPU tests
are collected and skipped, and ``compare`` runs its CPU path on a tiny epoch (the simulator
cannot time the MLP); everything else runs the same code, so a Python error shows up before
any GPU time is spent. Writes ``device_check.json`` and ``device_check.md`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and ``netcore`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import _common as common  # noqa: E402
from benchmarks import _device_check_report as report  # noqa: E402
from benchmarks import capture_check_cost, compare, compare_cnn  # noqa: E402
from benchmarks._device_check_ctx import (  # noqa: E402
    FAILURES,
    RESULTS,
    T_START,
    Ctx,
    _dist_version,
    fail,
    log,
    section,
)
from benchmarks._device_check_kernels import s_kernels, s_launch  # noqa: E402
from benchmarks._provenance import provenance  # noqa: E402


# ---------------------------------------------------------------- 1. device
@section("device")
def s_device(ctx: Ctx) -> None:
    import numba

    from netcore.backend.report import device_report

    meta = RESULTS["meta"]
    meta.update(
        python=platform.python_version(),
        numpy=np.__version__,
        numba=numba.__version__,
        numba_cuda=_dist_version("numba-cuda"),
        torch=_dist_version("torch"),
        smoke=ctx.smoke,
        simulated=ctx.simulated,
        backend=ctx.be.describe(),
        launch_path=ctx.be.launch_path,
        host=platform.node(),
        **provenance(),
    )
    report = device_report()
    meta["gpu_report"] = report.as_dict()
    if report.gpus:
        first = report.gpus[0]
        meta.update(
            device=first.name,
            compute_capability=list(first.compute_capability),
            memory_gib=round(first.total_bytes / 2**30, 1),
            driver=report.driver,
            runtime=report.runtime,
            cupy=report.cupy,
        )
    else:
        meta["device"] = (
            "numba CUDA simulator (CPU)" if ctx.simulated else f"no GPU: {report.problem}"
        )
    for k, v in meta.items():
        if k != "gpu_report":
            print(f"  {k}: {v}")
    for line in report.lines():
        print(f"  {line}")


# ---------------------------------------------------------------- 2. pytest
@section("pytest")
def s_pytest(ctx: Ctx) -> None:
    """Every ``gpu``-marked test once; on a GPU they must run and pass, under --smoke they are
    collected and skipped (the conftest names the simulator as the reason)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-rfEs",
        "-m",
        "gpu",
        "tests/",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    tail = (proc.stdout + proc.stderr).strip().splitlines()
    summary = tail[-1] if tail else ""
    RESULTS["pytest"] = {
        "gpu tests": {
            "rc": proc.returncode,
            "summary": summary,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    }
    print(f"  gpu tests: rc={proc.returncode} {summary}")
    ok = proc.returncode == 0
    if ctx.gpu and (" passed" not in summary or " skipped" in summary):
        ok = False  # on a GPU box every gpu test must actually run
    if not ok:
        print("\n".join(tail[-40:]))
        fail(f"pytest gpu tests: rc={proc.returncode} {summary}")


# ---------------------------------------------------------------- 5. capture
@section("capture")
def s_capture(ctx: Ctx) -> None:
    """Eager against captured epochs. Under --smoke the eager half runs on a tiny CPU epoch
    (the simulator cannot time the MLP and has no graphs); the captured half says SKIP."""
    from benchmarks import _common as common
    from netcore.backend.graph import GraphRuntime, graph_support, runtime_of
    from netcore.training import capture

    device = "cuda" if ctx.gpu else "cpu"
    n = common.EPOCH_SAMPLES if ctx.gpu else 200
    sizes = [b for b in ctx.batch_sizes if b <= 1024] if ctx.gpu else [64]
    x, y = common.to_backend(device, *common.make_data(n))
    replay_s: list[float] = []

    class TimedRuntime(GraphRuntime):
        def replay(self, graph: Any) -> None:
            t0 = time.perf_counter()
            super().replay(graph)
            replay_s.append(time.perf_counter() - t0)

    ok, why = graph_support(ctx.be)
    if not ok:
        print(f"  SKIP captured epochs: {why}")
    modes = (False, True) if ok else (False,)
    make_runtime = capture.runtime_of

    def timed_runtime(backend: Any) -> Any:
        return runtime_of(backend, TimedRuntime)

    capture.runtime_of = timed_runtime
    try:
        for b in sizes:
            row: dict[str, Any] = {"batch_size": b, "samples": n, "steps": -(-n // b)}
            for jit in modes:
                key = "captured" if jit else "eager"
                model = compare.netcore_model(device, jit)
                model.fit(x, y, batch_size=b, epochs=1, shuffle=False, verbose=0)  # warm-up
                common.synchronize(device)
                replay_s.clear()
                times, loss = [], 0.0
                for _ in range(1 if ctx.smoke else 2):
                    t0 = time.perf_counter()
                    hist = model.fit(x, y, batch_size=b, epochs=1, shuffle=False, verbose=0)
                    common.synchronize(device)
                    times.append(time.perf_counter() - t0)
                    loss = float(hist.history["loss"][-1])
                row[f"{key}_s"] = round(min(times), 4)
                row[f"{key}_step_us"] = round(1e6 * min(times) / row["steps"], 1)
                row[f"{key}_loss"] = loss
                if jit and replay_s:
                    row["replay_host_us"] = round(1e6 * statistics.median(replay_s), 2)
            if "captured_s" in row:
                row["captured_over_eager"] = round(row["captured_s"] / row["eager_s"], 3)
                row["loss_rel_diff"] = abs(row["captured_loss"] - row["eager_loss"]) / max(
                    abs(row["eager_loss"]), 1e-12
                )
                if row["loss_rel_diff"] > 2e-3:
                    fail(
                        f"capture b={b}: captured loss {row['captured_loss']} vs eager "
                        f"{row['eager_loss']}"
                    )
            RESULTS["capture"].append(row)
            print("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
    finally:
        capture.runtime_of = make_runtime


# ---------------------------------------------------------------- 6. selfcheck
@section("selfcheck")
def s_selfcheck(ctx: Ctx) -> None:
    """The captured step's self-check on this card; under --smoke on the CPU stand-in."""
    device = "cuda" if ctx.gpu else "cpu"
    batch, n = (128, 16384) if ctx.gpu else (32, 128)
    cost = capture_check_cost.measure(device, batch, n)
    cost["extra_steps"] = (cost["checked_step_s"] - cost["step_s"]) / cost["step_s"]
    caught = capture_check_cost.caught_wrong_replay(device, batch, 4 * batch)
    RESULTS["selfcheck"] = {
        "device": device if ctx.gpu else "cpu stand-in",
        "batch_size": batch,
        "samples": n,
        **{k: round(v, 6) for k, v in cost.items()},
        "frozen_rate_caught": caught,
    }
    print("  " + ", ".join(f"{k}={v}" for k, v in RESULTS["selfcheck"].items()))
    if caught is None:
        fail("selfcheck: a graph with a frozen Adam rate was not caught")


# ---------------------------------------------------------------- 7. compare
def compare_argv(ctx: Ctx) -> list[str]:
    """``compare.py``'s arguments for this run (its JSON goes beside this report)."""
    if ctx.smoke:  # the simulator cannot time the MLP: the same code on a tiny CPU epoch
        run = [
            "--device",
            "cpu",
            "--epochs-samples",
            "200",
            "--batch-sizes",
            "64",
            "--repeats",
            "1",
            "--lockstep-steps",
            "2",
        ]
    else:
        run = [
            "--device",
            "cuda",
            "--batch-sizes",
            ",".join(map(str, ctx.batch_sizes)),
            "--repeats",
            str(ctx.repeats),
        ]
    return [*run, "--json", str(ctx.out / "compare.json")]


@section("compare")
def s_compare(ctx: Ctx) -> None:
    argv = compare_argv(ctx)
    print(f"  benchmarks/compare.py {' '.join(argv)}", flush=True)
    rc = compare.main(argv)
    data = json.loads((ctx.out / "compare.json").read_text())
    table: list[str] = []
    compare.print_table(data["results"], print_fn=table.append)
    RESULTS["compare"] = {
        "argv": argv,
        "rc": rc,
        "json": "compare.json",
        "table": table,
        "targets": data.get("targets", []),
        "torch": data.get("torch"),
    }
    if rc != 0:
        fail(f"compare.py exited with {rc} (a lockstep or loss mismatch: see its output above)")


# ---------------------------------------------------------------- 8. compare_cnn
@section("compare_cnn")
def s_compare_cnn(ctx: Ctx) -> None:
    # The simulator cannot time a CNN either: the same code on a tiny CPU epoch.
    run = (
        ["--device", "cpu", "--samples", "16", "--batch-sizes", "8", "--repeats", "1"]
        if ctx.smoke
        else ["--device", "cuda", "--batch-sizes", "32,128", "--samples", "8192"]
    )
    argv = [*run, "--lockstep-steps", "2" if ctx.smoke else "5"]
    argv += ["--json", str(ctx.out / "compare_cnn.json")]
    print(f"  benchmarks/compare_cnn.py {' '.join(argv)}", flush=True)
    rc = compare_cnn.main(argv)
    data = json.loads((ctx.out / "compare_cnn.json").read_text())
    RESULTS["compare_cnn"] = {
        "argv": argv,
        "rc": rc,
        "json": "compare_cnn.json",
        "step_ms": {r["batch_size"]: r["step_ms"] for r in data["results"]},
        "ratio_netcore_over_torch": {
            r["batch_size"]: r["ratio_netcore_over_torch"] for r in data["results"]
        },
    }
    if rc != 0:
        fail(f"compare_cnn.py exited with {rc} (a lockstep mismatch: see its output above)")


# ---------------------------------------------------------------- report
SECTIONS: dict[str, Callable[[Ctx], Any]] = {
    "device": s_device,
    "pytest": s_pytest,
    "kernels": s_kernels,
    "launch": s_launch,
    "capture": s_capture,
    "selfcheck": s_selfcheck,
    "compare": s_compare,
    "compare_cnn": s_compare_cnn,
}


def write_report(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    RESULTS["targets"] = report.targets(RESULTS)
    RESULTS["failures"] = FAILURES
    RESULTS["seconds"] = round(time.perf_counter() - T_START, 1)
    gpu = RESULTS["meta"].get("device")
    prov = common.provenance(
        f"{gpu}, host {common.cpu_name()}, {os.cpu_count()} cores" if gpu else None
    )
    common.write_json_result(out / "device_check.json", RESULTS, prov)
    common.write_md_result(
        out / "device_check.md", "\n".join(report.markdown(RESULTS, FAILURES)), prov
    )


def print_table() -> None:
    report.print_summary(RESULTS, FAILURES, time.perf_counter() - T_START)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for device_check.json / .md")
    ap.add_argument(
        "--smoke", action="store_true", help="tiny sizes (CPU + NUMBA_ENABLE_CUDASIM=1)"
    )
    ap.add_argument(
        "--skip", default="", help=f"comma-separated sections to skip, of: {', '.join(SECTIONS)}"
    )
    ap.add_argument(
        "--batch-sizes",
        default="32,128,1024",
        help="batch sizes of the compare section (default %(default)s)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="timed epochs per contender in the compare section (default 3)",
    )
    args = ap.parse_args(argv)
    out = Path(args.out)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(SECTIONS)
    if unknown:
        ap.error(f"--skip must name sections of {list(SECTIONS)}, received {sorted(unknown)}")
    try:
        batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        ap.error(f"--batch-sizes must be comma-separated integers, received {args.batch_sizes!r}")
    try:
        ctx = Ctx(args.smoke, out, batch_sizes, args.repeats)
    except SystemExit:
        raise
    except Exception as exc:
        fail(f"setup: {type(exc).__name__}: {exc}")
        traceback.print_exc()
        write_report(out)
        print_table()
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for name, fn in SECTIONS.items():
        if name in skip:
            log(f"== {name}: skipped (--skip)")
            continue
        fn(ctx)
    write_report(out)
    print_table()
    print(f"wrote {out / 'device_check.json'} and {out / 'device_check.md'}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
