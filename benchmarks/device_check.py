#!/usr/bin/env python3
"""Device check for netcore's CUDA backend: one command, each check once, a few minutes on one card.

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
              reference on CuPy), achieved bandwidth against a measured D2D copy.
4. launch  -- host-side cost per call (host clock, N back-to-back calls on tiny arrays) for:
              the backend op via each launch path, a bare launch of each path, numba's plain
              dispatch of CuPy arrays, a CuPy ElementwiseKernel, the unfused CuPy ops.
5. capture -- the course MLP's epoch trained eagerly (``jit_compile=False``) and captured
              (``jit_compile=True``: one CUDA graph per step, replayed) at batch 32, 128 and
              1024: wall time per epoch and per step, the host time of one replay call, and
              the first-epoch losses of the two (same weights, same batches).
6. compare -- ``benchmarks/compare.py --device cuda``: netcore against PyTorch (eager, and
              ``torch.compile``) and the GEMM floor on the course MLP, lockstep-checked; its
              JSON is written beside this report as ``compare.json``.

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
from typing import Any, TypeVar

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and ``netcore`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import _device_check_report as report  # noqa: E402
from benchmarks import compare  # noqa: E402

RESULTS: dict[str, Any] = {
    "meta": {},
    "sections": {},
    "kernels": [],
    "copy": {},
    "launch": [],
    "capture": [],
    "compare": {},
}
FAILURES: list[str] = []
T_START = time.perf_counter()
F = TypeVar("F", bound=Callable[..., Any])


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T_START:6.1f}s] {msg}", flush=True)


def section(name: str) -> Callable[[F], F]:
    """Run the section; on any exception print FAIL, record it, and carry on."""

    def deco(fn: F) -> F:
        def run(*args: Any, **kw: Any) -> Any:
            log(f"== {name}")
            t0 = time.perf_counter()
            try:
                out = fn(*args, **kw)
                status = "ok"
            except Exception as exc:  # report and continue with the next section
                out = None
                status = f"FAIL: {type(exc).__name__}: {exc}"
                FAILURES.append(f"{name}: {type(exc).__name__}: {exc}")
                print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc(limit=6)
            RESULTS["sections"][name] = {
                "status": status,
                "seconds": round(time.perf_counter() - t0, 2),
            }
            return out

        return run  # type: ignore[return-value]

    return deco


def fail(what: str) -> None:
    FAILURES.append(what)
    print(f"FAIL {what}", flush=True)


# ---------------------------------------------------------------- context
class Ctx:
    """What every section needs: the backend, the array module, the timers, the settings."""

    def __init__(self, smoke: bool, out: Path, batch_sizes: list[int], repeats: int) -> None:
        import netcore as nc
        from netcore.backend.cuda import simulator_enabled

        self.smoke, self.out, self.batch_sizes, self.repeats = smoke, out, batch_sizes, repeats
        self.simulated = simulator_enabled()
        if self.simulated and not smoke:
            raise SystemExit(
                "NUMBA_ENABLE_CUDASIM=1 is set: use --smoke (full sizes would take hours)"
            )
        # raises BackendUnavailableError with the reason; Any: it is a CudaBackend
        self.be: Any = nc.get_backend("cuda", seed=0)
        self.xp = self.be.xp
        self.gpu = not self.simulated
        if self.gpu:
            import cupy

            self.cupy = cupy
            self._blk = cupy.ones((4096, 4096), dtype=cupy.float32)
            self._blk_out = cupy.empty_like(self._blk)

    def paths(self) -> list[str]:
        return ["sim"] if self.simulated else ["raw", "numba"]

    def backend_for(self, path: str) -> Any:
        import netcore as nc
        from netcore.kernels._launch import KernelSet

        be: Any = nc.get_backend("cuda", seed=0)
        if path != "sim":
            be.kernels = KernelSet(False, path=path)
            be.launch_path = path
        return be

    def sync(self) -> None:
        self.be.synchronize()

    def device_time(self, fn: Callable[[], Any], k: int, trials: int) -> float:
        """Median seconds per call of ``fn`` on the device (host cost hidden behind a matmul)."""
        for _ in range(2):
            fn()
        self.sync()
        ts = []
        if not self.gpu:
            for _ in range(trials):
                t0 = time.perf_counter()
                for _ in range(k):
                    fn()
                ts.append((time.perf_counter() - t0) / k)
            return statistics.median(ts)
        cp = self.cupy
        start, end = cp.cuda.Event(), cp.cuda.Event()
        for _ in range(trials):
            cp.matmul(self._blk, self._blk, out=self._blk_out)  # ~ms of device work first
            start.record()
            for _ in range(k):
                fn()
            end.record()
            end.synchronize()
            ts.append(cp.cuda.get_elapsed_time(start, end) / 1e3 / k)
        return statistics.median(ts)

    def host_time(self, fn: Callable[[], Any], n: int, rounds: int = 5) -> float:
        """Seconds of host time per call: median over ``rounds`` runs of ``n // rounds``
        back-to-back calls (enqueue cost; one long run would let one GC pause or a stall on a
        full launch queue decide the number)."""
        for _ in range(3):
            fn()
        self.sync()
        m = max(1, n // rounds)
        ts = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(m):
                fn()
            ts.append((time.perf_counter() - t0) / m)
            self.sync()
        return statistics.median(ts)


def _dist_version(name: str) -> str:
    """An installed distribution's version without importing it (importing torch into this
    process would slow what it times), or why there is none."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


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
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
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


# ---------------------------------------------------------------- 3. kernels
def _ops(ctx: Ctx, be: Any, n: int, c: int) -> list[tuple[str, Callable, Callable, int]]:
    """(name, fused call, unfused CuPy reference call, bytes moved by the fused kernel)."""
    from netcore.backend.base import Backend

    xp = ctx.xp
    ref = Backend(xp)  # the base-class ops on CuPy: exactly the sequence the kernel replaces
    rng = np.random.default_rng(0)
    f32 = np.float32
    N, s = n * c, 4

    def dev(a: np.ndarray) -> Any:
        return xp.asarray(a.astype(f32))

    z, dy = dev(rng.normal(size=(n, c))), dev(rng.normal(size=(n, c)))
    b = dev(rng.normal(size=c))
    y = xp.maximum(z, 0)
    ysig = dev(1 / (1 + np.exp(-rng.normal(size=(n, c)))))
    out, dz, grad = xp.empty_like(z), xp.empty_like(z), xp.empty_like(z)
    db = xp.empty(c, dtype=f32)
    lab = rng.integers(0, c, n)
    labels = xp.asarray(lab)
    onehot = xp.asarray(np.eye(c, dtype=f32)[lab]) if N <= 64 * 2**20 else None
    tb = dev(rng.random((n, c)) > 0.5)
    p, g = dev(rng.normal(size=N)), dev(rng.normal(size=N) * 1e-2)
    m1, v1 = xp.zeros_like(p), xp.zeros_like(p)
    m2, v2 = xp.zeros_like(p), xp.zeros_like(p)
    skip = xp.zeros(1, dtype=np.int32)  # a device flag that stays clear
    # Augmentation: 28x28 grey images holding about N values, a random rotation + shift each.
    imgs = dev(rng.random((max(1, N // 784), 28, 28, 1)))
    ang = rng.uniform(-0.3, 0.3, imgs.shape[0])
    rot = np.stack([np.cos(ang), -np.sin(ang), rng.uniform(-3, 3, ang.size)], 1)
    tf = xp.asarray(np.concatenate([rot, rot[:, [1, 0, 2]] * [-1, 1, 1]], 1))
    warped = xp.empty_like(imgs)
    ops = [
        (
            "bias+relu fwd",
            lambda: be.bias_act(z, b, "relu", out=out),
            lambda: ref.bias_act(z, b, "relu", out=out),
            2 * N * s,
        ),
        (
            "bias+sigmoid fwd",
            lambda: be.bias_act(z, b, "sigmoid", out=out),
            lambda: ref.bias_act(z, b, "sigmoid", out=out),
            2 * N * s,
        ),
        (
            "relu bwd + db",
            lambda: be.bias_act_grad(dy, y, "relu", dz_out=dz, db_out=db),
            lambda: ref.bias_act_grad(dy, y, "relu", dz_out=dz, db_out=db),
            3 * N * s,
        ),
        (
            "sigmoid bwd + db",
            lambda: be.bias_act_grad(dy, ysig, "sigmoid", dz_out=dz, db_out=db),
            lambda: ref.bias_act_grad(dy, ysig, "sigmoid", dz_out=dz, db_out=db),
            3 * N * s,
        ),
        (
            "softmax+xent labels",
            lambda: be.softmax_xent(z, labels, grad_out=grad),
            lambda: ref.softmax_xent(z, labels, grad_out=grad),
            2 * N * s,
        ),
        (
            "sigmoid+bce",
            lambda: be.sigmoid_bce(z, tb, grad_out=grad),
            lambda: ref.sigmoid_bce(z, tb, grad_out=grad),
            3 * N * s,
        ),
        (
            "adam",
            lambda: be.adam_update(p, g, m1, v1, 1e-3, 0.9, 0.999, 1e-7, skip),
            lambda: ref.adam_update(p, g, m2, v2, 1e-3, 0.9, 0.999, 1e-7, None),
            7 * N * s,
        ),
        (
            "sgd momentum",
            lambda: be.sgd_update(p, g, m1, 1e-3, 0.9, False, skip),
            lambda: ref.sgd_update(p, g, m2, 1e-3, 0.9, False, None),
            5 * N * s,
        ),
        (
            "rmsprop",
            lambda: be.rmsprop_update(p, g, v1, None, 1e-3, 0.9, 0.0, 1e-7, skip),
            lambda: ref.rmsprop_update(p, g, v2, None, 1e-3, 0.9, 0.0, 1e-7, None),
            5 * N * s,
        ),
        (
            "adagrad",
            lambda: be.adagrad_update(p, g, v1, 1e-3, 1e-7, skip),
            lambda: ref.adagrad_update(p, g, v2, 1e-3, 1e-7, None),
            5 * N * s,
        ),
        (
            "affine warp bilinear",
            lambda: be.affine_warp(imgs, tf, "reflect", "bilinear", 0.0, out=warped),
            lambda: ref.affine_warp(imgs, tf, "reflect", "bilinear", 0.0, out=warped),
            2 * imgs.size * s + tf.size * 8,
        ),
    ]
    if onehot is not None:
        ops.insert(
            4,
            (
                "softmax+xent one-hot",
                lambda: be.softmax_xent(z, onehot, grad_out=grad),
                lambda: ref.softmax_xent(z, onehot, grad_out=grad),
                3 * N * s,
            ),
        )
    return ops


@section("kernels")
def s_kernels(ctx: Ctx) -> None:
    # --smoke: one shape, rows and columns off the block sizes, is enough to run the code
    sizes = [(5, 33)] if ctx.smoke else [(128, 512), (1024, 512), (8192, 4096)]
    k, trials = (1, 1) if ctx.smoke else (10, 15)
    xp = ctx.xp
    n0, c0 = sizes[-1]
    src = xp.ones((n0, c0), dtype=np.float32)
    dst = xp.empty_like(src)
    t_copy = ctx.device_time(lambda: xp.copyto(dst, src), k, trials)
    copy_bw = 2 * src.nbytes / t_copy / 1e9
    RESULTS["copy"] = {"shape": [n0, c0], "us": round(t_copy * 1e6, 2), "GBps": round(copy_bw, 1)}
    print(f"  D2D copy {n0}x{c0} float32: {t_copy * 1e6:.1f} us, {copy_bw:.0f} GB/s (read+write)")
    be = ctx.be
    for n, c in sizes:
        for name, fused, unfused, nbytes in _ops(ctx, be, n, c):
            row: dict[str, Any] = {"op": name, "shape": f"{n}x{c}", "path": be.launch_path}
            try:
                tf = ctx.device_time(fused, k, trials)
                tu = ctx.device_time(unfused, k, trials)
                bw = nbytes / tf / 1e9
                row.update(
                    fused_us=round(tf * 1e6, 2),
                    unfused_us=round(tu * 1e6, 2),
                    speedup=round(tu / tf, 2),
                    GBps=round(bw, 1),
                    pct_copy=round(100 * bw / copy_bw, 1),
                )
                print(
                    f"  {name:22s} {n}x{c}: fused {tf * 1e6:9.1f} us  unfused {tu * 1e6:9.1f} us"
                    f"  x{tu / tf:5.2f}  {bw:7.1f} GB/s ({100 * bw / copy_bw:5.1f}% of copy)"
                )
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
                fail(f"kernels {name} {n}x{c}: {type(exc).__name__}: {exc}")
            RESULTS["kernels"].append(row)
        ctx.sync()


# ---------------------------------------------------------------- 4. launch overhead
def _bare_launch(be: Any, xp: Any) -> Callable[[], Any]:
    """One launch of ``bias_act_fwd`` on a 1x32 array, without the backend's argument checks."""
    z = xp.ones((1, 32), dtype=np.float32)
    b = xp.ones(32, dtype=np.float32)
    o = xp.empty_like(z)
    kern = be.kernels.get("bias_act_fwd", "float32")
    grid, block = be._grid_tiles(*z.shape)
    return lambda: kern(grid, block, z, b, o, 1, 1)


@section("launch")
def s_launch(ctx: Ctx) -> None:
    n_calls = 5 if ctx.smoke else 2000
    xp = ctx.xp
    rows = RESULTS["launch"]

    def record(what: str, path: str, fn: Callable) -> None:
        try:
            t = ctx.host_time(fn, n_calls)
            rows.append({"what": what, "path": path, "host_us": round(t * 1e6, 2)})
            print(f"  {what:34s} {path:22s} {t * 1e6:8.2f} us/call (host)")
        except Exception as exc:
            rows.append({"what": what, "path": path, "error": f"{type(exc).__name__}: {exc}"})
            fail(f"launch {what} {path}: {type(exc).__name__}: {exc}")

    for path in ctx.paths():
        be = ctx.backend_for(path)
        ops = _ops(ctx, be, 1, 32)
        for name, fused, _, _ in ops:
            record(f"backend op: {name}", path, fused)
        record("bare launch: bias_act_fwd", path, _bare_launch(be, xp))
    be = ctx.be
    z = xp.ones((1, 32), dtype=np.float32)
    b = xp.ones(32, dtype=np.float32)
    o = xp.empty_like(z)
    from netcore.backend.base import Backend

    ref = Backend(xp)
    record(
        "unfused CuPy ops: bias+relu", "cupy (2 kernels)", lambda: ref.bias_act(z, b, "relu", out=o)
    )
    if not ctx.gpu:
        print("  SKIP numba plain dispatch / CuPy ElementwiseKernel baselines (no GPU)")
        return
    cp = ctx.cupy
    ek = cp.ElementwiseKernel("T z, T b", "T y", "y = max(z + b, (T)0)", "netcore_bias_relu")
    record("CuPy ElementwiseKernel: bias+relu", "cupy", lambda: ek(z, b, o))
    from netcore.kernels import SPECS
    from netcore.kernels._common import cuda_kernel, load_cuda

    spec = SPECS["bias_act_fwd"]
    plain = load_cuda().jit(spec.signature("cuda", ("float32",)))(cuda_kernel(spec.cuda))
    grid, block = be._grid_tiles(*z.shape)
    # numba's documented way: CuPy arrays straight into the kernel (default stream, CAI sync)
    one = np.int32(1)
    record(
        "numba plain dispatch (CuPy args)",
        "numba default",
        lambda: plain[grid, block](z, b, o, one, one),
    )


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
    make_runtime = capture.runtime_for

    def timed_runtime(backend: Any) -> Any:
        return runtime_of(backend, TimedRuntime)

    capture.runtime_for = timed_runtime
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
        capture.runtime_for = make_runtime


# ---------------------------------------------------------------- 6. compare
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


# ---------------------------------------------------------------- report
SECTIONS: dict[str, Callable[[Ctx], Any]] = {
    "device": s_device,
    "pytest": s_pytest,
    "kernels": s_kernels,
    "launch": s_launch,
    "capture": s_capture,
    "compare": s_compare,
}


def write_report(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    RESULTS["targets"] = report.targets(RESULTS)
    RESULTS["failures"] = FAILURES
    RESULTS["seconds"] = round(time.perf_counter() - T_START, 1)
    (out / "device_check.json").write_text(json.dumps(RESULTS, indent=2, default=str))
    (out / "device_check.md").write_text("\n".join(report.markdown(RESULTS, FAILURES)) + "\n")


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
        default="32,128,1024,8192",
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
