#!/usr/bin/env python3
"""Device check for netcore's CUDA backend (issue 3): one command, under 4 minutes on one H100.

    PYTHONPATH=. python3 benchmarks/device_check.py --out out/device_check
    NUMBA_ENABLE_CUDASIM=1 PYTHONPATH=. python3 benchmarks/device_check.py --smoke --out /tmp/dc

Sections (each isolated: a failure prints ``FAIL <section>: why`` and the run goes on; the
exit code is 1 if any check failed):

1. device      -- the card, driver/runtime, library versions, the backend's description.
2. pytest      -- ``pytest -m gpu`` (the GPU kernel tests, both launch paths) and the kernel
                  test modules, in subprocesses.
3. correctness -- every fused kernel against the NumPy reference on fresh random data at
                  several sizes, for each launch path (raw PTX via CuPy, numba's own).
4. kernels     -- per fused op at 128x512, 1024x512, 8192x4096 float32: device time (CUDA
                  events around back-to-back launches queued behind a ~ms matmul, so host
                  launch cost is hidden; median of many), the unfused CuPy sequence it replaces
                  (the base-class reference on CuPy), achieved bandwidth vs a measured D2D copy.
5. launch      -- host-side cost per call (host clock, N back-to-back calls on tiny arrays)
                  for: the backend op via each launch path, a bare launch of each path, numba's
                  plain dispatch of CuPy arrays, a CuPy ElementwiseKernel, the unfused CuPy ops.
6. mlp         -- one epoch of the course MLP (60000x784 random, 784-512-512-10 relu/softmax,
                  Adam) at batch 128 and 1024: netcore 'cuda' vs PyTorch on the same GPU.

``--smoke`` shrinks every size so the whole script runs on a CPU under the CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``): GPU-only measurements are reported as SKIP there; everything
else runs the same code, so a Python error shows up before any GPU time is spent.
Writes ``device_check.json`` and ``device_check.md`` under ``--out``.
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
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "sim"))

import numpy as np  # noqa: E402

RESULTS: dict[str, Any] = {"meta": {}, "sections": {}, "checks": [], "kernels": [],
                           "copy": {}, "launch": [], "mlp": []}
FAILURES: list[str] = []
T_START = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T_START:6.1f}s] {msg}", flush=True)


def section(name: str) -> Callable:
    """Run the section; on any exception print FAIL, record it, and carry on."""
    def deco(fn: Callable) -> Callable:
        def run(*args: Any, **kw: Any) -> Any:
            log(f"== {name}")
            t0 = time.perf_counter()
            try:
                out = fn(*args, **kw)
                status = "ok"
            except Exception as exc:  # noqa: BLE001 -- report and continue
                out = None
                status = f"FAIL: {type(exc).__name__}: {exc}"
                FAILURES.append(f"{name}: {type(exc).__name__}: {exc}")
                print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc(limit=6)
            RESULTS["sections"][name] = {"status": status, "seconds": round(time.perf_counter() - t0, 2)}
            return out
        return run
    return deco


def fail(what: str) -> None:
    FAILURES.append(what)
    print(f"FAIL {what}", flush=True)


# ---------------------------------------------------------------- context
class Ctx:
    def __init__(self, smoke: bool) -> None:
        import netcore as nc
        from netcore.backend.cuda import simulator_enabled

        self.smoke = smoke
        self.simulated = simulator_enabled()
        if self.simulated and not smoke:
            raise SystemExit("NUMBA_ENABLE_CUDASIM=1 is set: use --smoke (full sizes would take hours)")
        self.be = nc.get_backend("cuda", seed=0)  # raises BackendUnavailableError with the reason
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

        be = nc.get_backend("cuda", seed=0)
        if path != "sim":
            be.kernels = KernelSet(False, path=path)
            be.launch_path = path
        return be

    def sync(self) -> None:
        self.be.synchronize()

    def device_time(self, fn: Callable, k: int, trials: int) -> float:
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

    def host_time(self, fn: Callable, n: int, rounds: int = 5) -> float:
        """Seconds of host time per call: median over ``rounds`` runs of ``n // rounds``
        back-to-back calls (enqueue cost; one long run let one GC pause or a stall on a full
        launch queue decide the number)."""
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


# ---------------------------------------------------------------- 1. device
@section("device")
def s_device(ctx: Ctx) -> None:
    import numba

    meta = RESULTS["meta"]
    meta.update(python=platform.python_version(), numpy=np.__version__, numba=numba.__version__,
                smoke=ctx.smoke, simulated=ctx.simulated, backend=ctx.be.describe(),
                launch_path=ctx.be.launch_path, host=platform.node(),
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    try:
        from importlib.metadata import version

        meta["numba_cuda"] = version("numba-cuda")
    except Exception:
        meta["numba_cuda"] = "?"
    if ctx.gpu:
        cp = ctx.cupy
        dev = cp.cuda.Device()
        props = cp.cuda.runtime.getDeviceProperties(dev.id)
        name = props["name"]
        meta.update(device=name.decode() if isinstance(name, bytes) else name,
                    compute_capability=dev.compute_capability,
                    memory_gib=round(dev.mem_info[1] / 2**30, 1),
                    driver=cp.cuda.runtime.driverGetVersion(),
                    runtime=cp.cuda.runtime.runtimeGetVersion(), cupy=cp.__version__)
    else:
        meta["device"] = "numba CUDA simulator (CPU)"
    try:
        import torch

        meta["torch"] = torch.__version__
    except Exception as exc:
        meta["torch"] = f"unavailable ({type(exc).__name__})"
    for k, v in meta.items():
        print(f"  {k}: {v}")


# ---------------------------------------------------------------- 2. pytest
@section("pytest")
def s_pytest(ctx: Ctx) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    runs = [("gpu tests", ["-m", "gpu", "tests/"]),  # every gpu-marked test in the suite
            ("kernel modules", ["tests/test_kernels_cpu.py", "tests/test_backend_signatures.py"])]
    if ctx.smoke:
        runs = [("signatures (smoke)", ["tests/test_backend_signatures.py"])]
    out = {}
    for label, args in runs:
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs", *args]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        tail = (proc.stdout + proc.stderr).strip().splitlines()
        summary = tail[-1] if tail else ""
        out[label] = {"rc": proc.returncode, "summary": summary,
                      "seconds": round(time.perf_counter() - t0, 1)}
        print(f"  {label}: rc={proc.returncode} {summary}")
        ok = proc.returncode == 0 and ("skipped" not in summary or "passed" in summary)
        if label == "gpu tests" and " passed" not in summary:
            ok = False  # on a GPU box the gpu tests must actually run
        if not ok:
            print("\n".join(tail[-40:]))
            fail(f"pytest {label}: rc={proc.returncode} {summary}")
    RESULTS["pytest"] = out


# ---------------------------------------------------------------- 3. correctness
@section("correctness")
def s_correctness(ctx: Ctx) -> None:
    import kernel_cases as kc

    shapes = [(1, 1), (33, 17), (3, 257)] if ctx.smoke else \
        [(1, 1), (33, 17), (3, 257), (128, 512), (1024, 512), (4097, 130)]
    opt_shapes = [(1,), (33, 17)] if ctx.smoke else [(1,), (33, 17), (784, 512), (1_000_003,)]
    for path in ctx.paths():
        be = ctx.backend_for(path)
        for family, check in kc.ALL_CHECKS.items():
            for dtype in (np.float32, np.float64):
                rng = np.random.default_rng(1234)
                shp = opt_shapes if family == "optimizers" else shapes
                if dtype == np.float64:
                    shp = shp[:3]
                t0 = time.perf_counter()
                try:
                    check(be, rng, dtype, shapes=shp)
                    status = "pass"
                except Exception as exc:  # AssertionError or a launch error
                    status = f"FAIL {type(exc).__name__}: {str(exc)[:300]}"
                    fail(f"correctness {path} {family} {np.dtype(dtype).name}: {str(exc)[:200]}")
                RESULTS["checks"].append({"path": path, "family": family,
                                          "dtype": np.dtype(dtype).name, "status": status,
                                          "seconds": round(time.perf_counter() - t0, 2)})
                print(f"  {path:5s} {family:14s} {np.dtype(dtype).name}: {status}")
        fb = getattr(be.kernels, "fallbacks", [])
        if fb:
            fail(f"raw launch path fell back to numba for {fb}")


# ---------------------------------------------------------------- 4. kernels
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
    skip = be._noskip
    ops = [
        ("bias+relu fwd", lambda: be.bias_act(z, b, "relu", out=out),
         lambda: ref.bias_act(z, b, "relu", out=out), 2 * N * s),
        ("bias+sigmoid fwd", lambda: be.bias_act(z, b, "sigmoid", out=out),
         lambda: ref.bias_act(z, b, "sigmoid", out=out), 2 * N * s),
        ("relu bwd + db", lambda: be.bias_act_grad(dy, y, "relu", dz_out=dz, db_out=db),
         lambda: ref.bias_act_grad(dy, y, "relu", dz_out=dz, db_out=db), 3 * N * s),
        ("sigmoid bwd + db", lambda: be.bias_act_grad(dy, ysig, "sigmoid", dz_out=dz, db_out=db),
         lambda: ref.bias_act_grad(dy, ysig, "sigmoid", dz_out=dz, db_out=db), 3 * N * s),
        ("softmax+xent labels", lambda: be.softmax_xent(z, labels, grad_out=grad),
         lambda: ref.softmax_xent(z, labels, grad_out=grad), 2 * N * s),
        ("sigmoid+bce", lambda: be.sigmoid_bce(z, tb, grad_out=grad),
         lambda: ref.sigmoid_bce(z, tb, grad_out=grad), 3 * N * s),
        ("adam", lambda: be.adam_update(p, g, m1, v1, 1e-3, 0.9, 0.999, 1e-7, skip),
         lambda: ref.adam_update(p, g, m2, v2, 1e-3, 0.9, 0.999, 1e-7, None), 7 * N * s),
        ("sgd momentum", lambda: be.sgd_update(p, g, m1, 1e-3, 0.9, False, skip),
         lambda: ref.sgd_update(p, g, m2, 1e-3, 0.9, False, None), 5 * N * s),
        ("rmsprop", lambda: be.rmsprop_update(p, g, v1, None, 1e-3, 0.9, 0.0, 1e-7, skip),
         lambda: ref.rmsprop_update(p, g, v2, None, 1e-3, 0.9, 0.0, 1e-7, None), 5 * N * s),
        ("adagrad", lambda: be.adagrad_update(p, g, v1, 1e-3, 1e-7, skip),
         lambda: ref.adagrad_update(p, g, v2, 1e-3, 1e-7, None), 5 * N * s),
    ]
    if onehot is not None:
        ops.insert(4, ("softmax+xent one-hot", lambda: be.softmax_xent(z, onehot, grad_out=grad),
                       lambda: ref.softmax_xent(z, onehot, grad_out=grad), 3 * N * s))
    return ops


@section("kernels")
def s_kernels(ctx: Ctx) -> None:
    sizes = [(8, 16), (33, 40)] if ctx.smoke else [(128, 512), (1024, 512), (8192, 4096)]
    k, trials = (2, 2) if ctx.smoke else (10, 15)
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
                row.update(fused_us=round(tf * 1e6, 2), unfused_us=round(tu * 1e6, 2),
                           speedup=round(tu / tf, 2), GBps=round(bw, 1),
                           pct_copy=round(100 * bw / copy_bw, 1))
                print(f"  {name:22s} {n}x{c}: fused {tf * 1e6:9.1f} us  unfused {tu * 1e6:9.1f} us"
                      f"  x{tu / tf:5.2f}  {bw:7.1f} GB/s ({100 * bw / copy_bw:5.1f}% of copy)")
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
                fail(f"kernels {name} {n}x{c}: {type(exc).__name__}: {exc}")
            RESULTS["kernels"].append(row)
        ctx.sync()


# ---------------------------------------------------------------- 5. launch overhead
@section("launch")
def s_launch(ctx: Ctx) -> None:
    n_calls = 20 if ctx.smoke else 2000
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
        # the bare launch, without the backend's argument checks
        z = xp.ones((1, 32), dtype=np.float32)
        b = xp.ones(32, dtype=np.float32)
        o = xp.empty_like(z)
        kern = be.kernels.get("bias_act_fwd", "float32")
        grid, block = be._grid_tiles(*z.shape)
        record("bare launch: bias_act_fwd", path, lambda: kern(grid, block, z, b, o, 1, 1))
    be = ctx.be
    z = xp.ones((1, 32), dtype=np.float32)
    b = xp.ones(32, dtype=np.float32)
    o = xp.empty_like(z)
    from netcore.backend.base import Backend

    ref = Backend(xp)
    record("unfused CuPy ops: bias+relu", "cupy (2 kernels)", lambda: ref.bias_act(z, b, "relu", out=o))
    if not ctx.gpu:
        print("  SKIP numba plain dispatch / CuPy ElementwiseKernel baselines (no GPU)")
        return
    cp = ctx.cupy
    ek = cp.ElementwiseKernel("T z, T b", "T y", "y = max(z + b, (T)0)", "netcore_bias_relu")
    record("CuPy ElementwiseKernel: bias+relu", "cupy", lambda: ek(z, b, o))
    from netcore.kernels import bias_act as ba

    fn, sigf = ba.load_cuda_kernels()["bias_act_fwd"]
    plain = ba.cuda.jit(sigf("float32"))(fn)
    grid, block = be._grid_tiles(*z.shape)
    # numba's documented way: CuPy arrays straight into the kernel (default stream, CAI sync)
    one = np.int32(1)
    record("numba plain dispatch (CuPy args)", "numba default",
           lambda: plain[grid, block](z, b, o, one, one))


# ---------------------------------------------------------------- 6. MLP epoch
@section("mlp")
def s_mlp(ctx: Ctx) -> None:
    if ctx.smoke:
        n, d, h, classes, batches = 256, 20, 16, 3, (32, 64)
    else:
        n, d, h, classes, batches = 60000, 784, 512, 10, (128, 1024)
    rng = np.random.default_rng(0)
    x = rng.random((n, d), dtype=np.float32)
    lab = rng.integers(0, classes, n)
    y = np.eye(classes, dtype=np.float32)[lab]
    for bs in batches:
        row: dict[str, Any] = {"batch": bs, "samples": n, "arch": f"{d}-{h}-{h}-{classes}"}
        try:
            from netcore.layers import Dense
            from netcore.models import Sequential

            def build() -> Any:
                m = Sequential([Dense(h, activation="relu", input_shape=(d,)),
                                Dense(h, activation="relu"), Dense(classes, activation="softmax")],
                               backend="cuda", seed=0)
                m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
                return m

            m = build()
            m.fit(x[: 3 * bs], y[: 3 * bs], epochs=1, batch_size=bs, verbose=0)  # compile, warm up
            ctx.sync()
            t0 = time.perf_counter()
            hist = m.fit(x, y, epochs=1, batch_size=bs, verbose=0)
            ctx.sync()
            t_nc = time.perf_counter() - t0
            loss = hist.history["loss"][-1] if hasattr(hist, "history") else float("nan")
            row.update(netcore_s=round(t_nc, 3), netcore_loss=round(float(loss), 4),
                       netcore_steps_per_s=round(n / bs / t_nc, 1))
            print(f"  netcore cuda  batch {bs:5d}: {t_nc:7.3f} s/epoch  loss {float(loss):.4f}")
        except Exception as exc:
            row["netcore_error"] = f"{type(exc).__name__}: {exc}"
            fail(f"mlp netcore batch {bs}: {type(exc).__name__}: {exc}")
            traceback.print_exc(limit=6)
        if True:  # torch on the GPU; in --smoke on the CPU, to prove the code path runs
            try:
                t_t, loss_t = _torch_epoch(x, lab, d, h, classes, bs, "cuda" if ctx.gpu else "cpu")
                row.update(torch_s=round(t_t, 3), torch_loss=round(loss_t, 4))
                if "netcore_s" in row:
                    row["netcore_vs_torch"] = round(row["netcore_s"] / t_t, 2)
                print(f"  torch         batch {bs:5d}: {t_t:7.3f} s/epoch  loss {loss_t:.4f}")
            except ImportError as exc:
                row["torch_error"] = f"not importable: {exc}"
                print(f"  SKIP torch: {exc}")
            except Exception as exc:
                row["torch_error"] = f"{type(exc).__name__}: {exc}"
                print(f"  torch failed (not a netcore failure): {type(exc).__name__}: {exc}")
        RESULTS["mlp"].append(row)


def _torch_epoch(x: np.ndarray, lab: np.ndarray, d: int, h: int, classes: int,
                 bs: int, device: str = "cuda") -> tuple[float, float]:
    """Same MLP, Adam (Keras defaults: lr 1e-3, eps 1e-7), data already on the GPU."""
    import torch

    dev = torch.device(device)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, h),
                                torch.nn.ReLU(), torch.nn.Linear(h, classes)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    lossf = torch.nn.CrossEntropyLoss()
    X = torch.from_numpy(x).to(dev)
    Y = torch.from_numpy(lab).to(dev)
    n = X.shape[0]

    def epoch(limit: int) -> torch.Tensor:
        perm = torch.randperm(n, device=dev)
        total = torch.zeros((), device=dev)
        for i in range(0, min(n, limit), bs):
            idx = perm[i:i + bs]
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
            total += loss.detach() * idx.numel()
        return total / min(n, limit)

    epoch(3 * bs)  # warm-up: cuBLAS handles, allocator, kernels
    sync()
    t0 = time.perf_counter()
    mean_loss = epoch(n)
    sync()
    return time.perf_counter() - t0, float(mean_loss)


# ---------------------------------------------------------------- report
#: Targets of every fused kernel: share of the measured D2D copy bandwidth at the largest
#: size, and host launch overhead per backend op on the default launch path.
TARGET_PCT_COPY = 70.0
TARGET_HOST_US = 20.0


def targets() -> list[dict[str, Any]]:
    """Per fused op: % of copy bandwidth (largest shape) and host us/op vs the targets."""
    if not RESULTS["kernels"] and not RESULTS["launch"]:
        return []
    path = RESULTS["meta"].get("launch_path", "raw")
    shapes = [r["shape"] for r in RESULTS["kernels"]]
    big = shapes[-1] if shapes else None
    names = list(dict.fromkeys(r["op"] for r in RESULTS["kernels"]))
    if not names:
        names = [r["what"].removeprefix("backend op: ") for r in RESULTS["launch"]
                 if r["what"].startswith("backend op: ")]
        names = list(dict.fromkeys(names))
    rows = []
    for name in names:
        k = next((r for r in RESULTS["kernels"] if r["op"] == name and r["shape"] == big), {})
        h = next((r for r in RESULTS["launch"]
                  if r["what"] == f"backend op: {name}" and r["path"] == path), {})
        pct, us = k.get("pct_copy"), h.get("host_us")
        rows.append({"op": name, "shape": big, "pct_copy": pct,
                     "bw_target": "-" if pct is None else ("met" if pct >= TARGET_PCT_COPY else "MISSED"),
                     "host_us": us, "path": path,
                     "launch_target": "-" if us is None else ("met" if us <= TARGET_HOST_US else "MISSED")})
    RESULTS["targets"] = rows
    return rows


def write_report(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    targets()
    RESULTS["failures"] = FAILURES
    RESULTS["seconds"] = round(time.perf_counter() - T_START, 1)
    (out / "device_check.json").write_text(json.dumps(RESULTS, indent=2, default=str))
    meta = RESULTS["meta"]
    md = [f"# netcore device check: {meta.get('device', '?')}", "",
          f"- run: {meta.get('date', '?')}",
          f"- backend: {meta.get('backend', '?')}",
          f"- versions: python {meta.get('python')}, numpy {meta.get('numpy')}, numba "
          f"{meta.get('numba')}, numba-cuda {meta.get('numba_cuda')}, cupy {meta.get('cupy', '-')}, "
          f"torch {meta.get('torch')}",
          f"- driver {meta.get('driver', '-')}, runtime {meta.get('runtime', '-')}, "
          f"cc {meta.get('compute_capability', '-')}, smoke={meta.get('smoke')}",
          f"- total {RESULTS['seconds']} s; failures: {len(FAILURES)}", ""]
    md += ["## Sections", "", "| section | status | s |", "|---|---|---|"]
    md += [f"| {k} | {v['status']} | {v['seconds']} |" for k, v in RESULTS["sections"].items()]
    if RESULTS.get("pytest"):
        md += ["", "## pytest", "", "| run | rc | summary |", "|---|---|---|"]
        md += [f"| {k} | {v['rc']} | {v['summary']} |" for k, v in RESULTS["pytest"].items()]
    if RESULTS["checks"]:
        bad = [c for c in RESULTS["checks"] if c["status"] != "pass"]
        md += ["", f"## Kernel vs NumPy reference: {len(RESULTS['checks']) - len(bad)}/"
               f"{len(RESULTS['checks'])} pass", ""]
        md += [f"- {c['path']} {c['family']} {c['dtype']}: {c['status']}" for c in bad]
    if RESULTS["kernels"]:
        cp = RESULTS["copy"]
        md += ["", f"## Fused kernels (float32; D2D copy {cp.get('shape')}: {cp.get('us')} us, "
               f"{cp.get('GBps')} GB/s)", "",
               "| op | shape | fused us | unfused CuPy us | speedup | GB/s | % of copy |",
               "|---|---|---|---|---|---|---|"]
        for r in RESULTS["kernels"]:
            md.append(f"| {r['op']} | {r['shape']} | {r.get('fused_us', 'ERR')} | "
                      f"{r.get('unfused_us', '')} | {r.get('speedup', '')} | {r.get('GBps', '')} | "
                      f"{r.get('pct_copy', '')} |")
    if RESULTS["launch"]:
        md += ["", "## Host launch overhead (tiny arrays, back-to-back)", "",
               "| what | path | host us/call |", "|---|---|---|"]
        md += [f"| {r['what']} | {r['path']} | {r.get('host_us', r.get('error'))} |"
               for r in RESULTS["launch"]]
    if RESULTS.get("targets"):
        md += ["", f"## Targets: >= {TARGET_PCT_COPY:.0f}% of copy bandwidth, <= {TARGET_HOST_US:.0f} us "
               "host launch overhead per op", "",
               "| op | shape | % of copy | bandwidth target | host us/op | path | launch target |",
               "|---|---|---|---|---|---|---|"]
        md += [f"| {r['op']} | {r['shape']} | {r['pct_copy']} | {r['bw_target']} | {r['host_us']} | "
               f"{r['path']} | {r['launch_target']} |" for r in RESULTS["targets"]]
    if RESULTS["mlp"]:
        md += ["", "## One epoch, course MLP, Adam (netcore includes the host->device copy of x)", "",
               "| batch | arch | netcore s | torch s | netcore/torch | loss netcore | loss torch |",
               "|---|---|---|---|---|---|---|"]
        for r in RESULTS["mlp"]:
            md.append(f"| {r['batch']} | {r['arch']} | {r.get('netcore_s', r.get('netcore_error'))} | "
                      f"{r.get('torch_s', r.get('torch_error', '-'))} | {r.get('netcore_vs_torch', '-')} | "
                      f"{r.get('netcore_loss', '-')} | {r.get('torch_loss', '-')} |")
    if FAILURES:
        md += ["", "## Failures", ""] + [f"- {f}" for f in FAILURES]
    (out / "device_check.md").write_text("\n".join(md) + "\n")


def print_table() -> None:
    print("\n" + "=" * 100)
    print(f"device: {RESULTS['meta'].get('device', '?')}   backend: {RESULTS['meta'].get('backend', '?')}")
    for k, v in RESULTS["sections"].items():
        print(f"  {k:12s} {v['status'][:80]:80s} {v['seconds']:6.1f}s")
    if RESULTS["kernels"]:
        print(f"\n  {'op':22s} {'shape':10s} {'fused us':>10s} {'unfused us':>11s} {'x':>6s} {'GB/s':>8s} {'%copy':>6s}")
        for r in RESULTS["kernels"]:
            print(f"  {r['op']:22s} {r['shape']:10s} {r.get('fused_us', 'ERR')!s:>10s} "
                  f"{r.get('unfused_us', '')!s:>11s} {r.get('speedup', '')!s:>6s} "
                  f"{r.get('GBps', '')!s:>8s} {r.get('pct_copy', '')!s:>6s}")
    if RESULTS["launch"]:
        print()
        for r in RESULTS["launch"]:
            print(f"  {r['what']:36s} {r['path']:22s} {r.get('host_us', 'ERR')!s:>8s} us")
    if RESULTS["mlp"]:
        print()
        for r in RESULTS["mlp"]:
            print(f"  MLP batch {r['batch']:5d}: netcore {r.get('netcore_s', 'ERR')!s:>8s} s   "
                  f"torch {r.get('torch_s', '-')!s:>8s} s   ratio {r.get('netcore_vs_torch', '-')}")
    rows = targets()
    if rows:
        print(f"\n  targets: >= {TARGET_PCT_COPY:.0f}% of copy bandwidth (largest shape), "
              f"<= {TARGET_HOST_US:.0f} us host per op ({rows[0]['path']} path)")
        print(f"  {'op':22s} {'shape':10s} {'%copy':>6s} {'bw':>7s} {'host us':>8s} {'launch':>7s}")
        for r in rows:
            print(f"  {r['op']:22s} {r['shape']!s:10s} {r['pct_copy']!s:>6s} {r['bw_target']:>7s} "
                  f"{r['host_us']!s:>8s} {r['launch_target']:>7s}")
    print(f"\n{len(FAILURES)} failure(s); {time.perf_counter() - T_START:.1f} s total")
    for f in FAILURES:
        print(f"  FAIL {f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="folder for device_check.json / .md")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CPU + NUMBA_ENABLE_CUDASIM=1)")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip")
    args = ap.parse_args(argv)
    out = Path(args.out)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    try:
        ctx = Ctx(args.smoke)
    except SystemExit:
        raise
    except Exception as exc:
        fail(f"setup: {type(exc).__name__}: {exc}")
        traceback.print_exc()
        write_report(out)
        print_table()
        return 1
    for name, fn in (("device", s_device), ("pytest", s_pytest), ("correctness", s_correctness),
                     ("kernels", s_kernels), ("launch", s_launch), ("mlp", s_mlp)):
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
