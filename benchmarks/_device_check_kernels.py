"""The device check's kernel sections: fused kernels against the CuPy sequences they replace
and against copy bandwidth (3. kernels), and the host cost of a launch (4. launch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import _device_check_conv as conv
from benchmarks._device_check_ctx import RESULTS, Ctx, fail, section


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
            _row(ctx, "kernels", name, f"{n}x{c}", fused, unfused, nbytes, k, trials, copy_bw)
        ctx.sync()
    # the convolutional layers' kernels at the course network's shapes, checked against their
    # references too; a table apart: the elementwise targets read ``kernels``
    for n in [2] if ctx.smoke else [32, 128]:
        for name, shape, fused, unfused, nbytes in [
            *conv.conv_ops(ctx.xp, be, n, ctx.smoke),
            *conv.warp_ops(ctx.xp, be, n, ctx.smoke),
        ]:
            _row(ctx, "conv_kernels", name, shape, fused, unfused, nbytes, k, trials, copy_bw)
        ctx.sync()


def _row(
    ctx: Ctx,
    table: str,
    name: str,
    shape: str,
    fused: Callable,
    unfused: Callable,
    nbytes: int,
    k: int,
    trials: int,
    copy_bw: float,
) -> None:
    """Time ``fused`` against ``unfused`` (and, for ``conv_kernels``, check their parity) into
    one row of ``RESULTS[table]``; a failure is recorded and the check goes on."""
    row: dict[str, Any] = {"op": name, "shape": shape, "path": ctx.be.launch_path}
    try:
        parity = ""
        if table == "conv_kernels":
            row["max_rel_diff"] = conv.parity(ctx.xp, fused, unfused)
            parity = f"  parity {row['max_rel_diff']:.1e}"
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
            f"  {name:22s} {shape}: fused {tf * 1e6:9.1f} us  unfused {tu * 1e6:9.1f} us"
            f"  x{tu / tf:5.2f}  {bw:7.1f} GB/s ({100 * bw / copy_bw:5.1f}% of copy){parity}"
        )
        if "max_rel_diff" in row and not row["max_rel_diff"] < 1e-4:
            fail(f"kernels {name} {shape}: max relative difference {row['max_rel_diff']}")
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
        fail(f"kernels {name} {shape}: {type(exc).__name__}: {exc}")
    RESULTS[table].append(row)


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
