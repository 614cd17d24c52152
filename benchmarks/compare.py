"""netcore against PyTorch on identical work, and against the GEMM floor.

For each device and batch size this builds the course MLP (784-512-512-10, ReLU, softmax,
sparse categorical cross-entropy, Adam) in netcore, copies netcore's initial weights into an
equivalent ``torch.nn.Sequential`` (a netcore kernel ``(in, out)`` is a torch ``weight.T``),
and trains both on the same synthetic MNIST-shaped data, in the same batch order
(``shuffle=False``), with the same Adam hyperparameters. The two trainers and the GEMM floor
(the eight matrix products of each training step, timed alone in NumPy / CuPy) alternate epoch
by epoch, so all three see the same machine load; the medians and their ratios are printed.

Adam: Keras 3 (and netcore) apply ``w -= alpha m / (sqrt(v) + eps)`` with the bias corrections
folded into ``alpha``; PyTorch applies ``w -= lr m_hat / (sqrt(v_hat) + eps)``. These agree
exactly when PyTorch's epsilon at step ``t`` is ``eps / sqrt(1 - beta_2^t)``, which this script
sets before each PyTorch step (a dictionary write, nothing measurable).

PyTorch runs in a separate worker process (:class:`TorchWorker`): torch's own thread runtime
beside NumPy's BLAS in one process slows both (measured in docs/benchmarks.md).

Two checks make sure it is the same work, not just the same shapes; a failure exits with
status 1 (the timings are still printed and written):

* lockstep: before timing, both trainers start from the initial weights with a fresh Adam,
  take ``--lockstep-steps`` steps on the same batches, and their per-step losses must agree
  within ``--lockstep-rtol`` (1e-3): far above the rounding differences of the same work, far
  below what a 10% different learning rate gives (the measurements are in
  docs/benchmarks.md). The largest weight difference after those steps is reported too;
* the mean training loss over the first timed epoch must agree within ``--loss-rtol``
  (2e-3): the coarser check, as rounding differences (one BLAS against another, float32
  against float64) grow over a whole epoch.

PyTorch's TF32 matrix products are switched off, so both sides compute in true float32 (CuPy
uses TF32 only when ``CUPY_TF32=1``; the value is recorded with the results).

Each side's data is moved to its device once, before the timed epochs, and each epoch is
synchronised before its clock stops. On the GPU, PyTorch's Adam is its fused single-kernel
form (``fused=True``), and a second PyTorch contender runs beside eager mode:
``torch.compile(mode="reduce-overhead")`` of the forward pass and the loss (Inductor kernels
replayed as CUDA graphs, backward included), lockstep-checked like the eager one
(``--torch-compile``; where it cannot run, the results say why and the run goes on).
netcore runs twice on the GPU: ``netcore`` is its eager step (``jit_compile=False``) and
``netcore_captured`` its training step captured once per epoch as a CUDA graph and replayed
(``jit_compile=True``); the captured epoch's loss must agree with the eager one within
``--loss-rtol``.

Run from the repository root::

    python benchmarks/compare.py --device cpu --batch-sizes 32,128 --repeats 3 --json out.json
    PYTHONPATH=. python3 benchmarks/compare.py --device cuda --batch-sizes 32,128,1024,8192 \
        --json $OUT/compare_gpu.json

The course CNN (Conv2D, BatchNormalization, MaxPool2D; RMSprop) has its own script on the same
principles, :mod:`benchmarks.compare_cnn` (same weights, lockstep, alternating epochs, and
the GEMM share and per-layer time of a netcore step).

PyTorch is optional: without it, netcore and the GEMM floor are still timed and the PyTorch
columns say why they are empty. On the CPU-only development machines install the pinned CPU
build with ``pip install torch==2.13.0``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import math
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and ``netcore`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as common  # noqa: E402


# ---------------------------------------------------------------------------- PyTorch side
def torch_status() -> tuple[bool, str]:
    """``(installed, note)``, without importing torch into this process (see :class:`TorchWorker`)."""
    if importlib.util.find_spec("torch") is None:
        return False, (
            "PyTorch is not installed; on the CPU-only dev machines: pip install torch==2.13.0"
        )
    return True, "PyTorch runs in its own process"


class TorchTrainer:
    """The same MLP in PyTorch, starting from netcore's weights: eager, or ``torch.compile``d.

    ``weights`` is netcore's ``get_weights()`` list: per Dense layer a kernel ``(in, out)``
    and a bias ``(out,)``. On a GPU, Adam is PyTorch's fused single-kernel form
    (``fused=True``). ``compile_mode`` (e.g. ``"reduce-overhead"``: CUDA graphs) compiles the
    forward pass and the loss, and so their backward; the optimizer step stays eager, as
    its per-step epsilon (see the module docstring) would otherwise recompile it.
    """

    def __init__(
        self,
        torch: Any,
        device: str,
        weights: Sequence[np.ndarray],
        lr_scale: float = 1.0,
        compile_mode: str | None = None,
    ) -> None:
        self.torch = torch
        self.device = torch.device("cuda" if device == "cuda" else "cpu")
        self.lr = common.LEARNING_RATE * lr_scale  # lr_scale != 1 only to see the checks fail
        nn = torch.nn
        layers: list[Any] = []
        sizes = common.LAYER_SIZES
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers).to(self.device)
        self.linears = [m for m in self.model if isinstance(m, nn.Linear)]
        self.compile_mode = compile_mode
        self.loss = (
            torch.compile(self._loss, mode=compile_mode, dynamic=False)
            if compile_mode
            else self._loss
        )
        self.reset(weights)

    def reset(self, weights: Sequence[np.ndarray]) -> None:
        """Back to ``weights`` and a fresh Adam, keeping the same parameter tensors (so a
        compiled step, whose CUDA graphs hold their addresses, stays valid)."""
        torch = self.torch
        with torch.no_grad():
            for lin, kernel, bias in zip(self.linears, weights[0::2], weights[1::2]):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
                lin.bias.copy_(torch.from_numpy(np.asarray(bias)))
        fused = {"fused": True} if self.device.type == "cuda" else {}
        self.opt = torch.optim.Adam(
            self.model.parameters(),
            lr=self.lr,
            betas=(common.BETA_1, common.BETA_2),
            eps=common.EPSILON,
            **fused,
        )
        self.steps = 0

    def _loss(self, xb: Any, yb: Any) -> Any:
        return self.torch.nn.functional.cross_entropy(self.model(xb), yb)

    def tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """``x``, ``y`` on this trainer's device (moved once, outside the timed epochs)."""
        t = self.torch
        return (t.from_numpy(x).to(self.device), t.from_numpy(y).to(self.device))

    def epoch(self, x: Any, y: Any, batch_size: int) -> float:
        """One epoch in order; returns the sample-weighted mean training loss (one host read)."""
        torch, model, opt = self.torch, self.model, self.opt
        group = opt.param_groups[0]
        n = x.shape[0]
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        # A replayed CUDA graph reuses its output buffers; each step's loss is consumed (added
        # to ``total``) before the next step starts, which this mark tells the graph pool.
        mark_step = torch.compiler.cudagraph_mark_step_begin if self.compile_mode else None
        model.train()
        for s in range(0, n, batch_size):
            xb, yb = x[s : s + batch_size], y[s : s + batch_size]
            self.steps += 1
            # Keras' epsilon, expressed in torch's bias-corrected denominator (see module doc).
            group["eps"] = common.EPSILON / math.sqrt(1.0 - common.BETA_2**self.steps)
            if mark_step is not None:
                mark_step()
            opt.zero_grad(set_to_none=True)
            loss = self.loss(xb, yb)
            loss.backward()
            opt.step()
            total += loss.detach() * xb.shape[0]
        return float(total.item()) / n

    def step_losses(self, x: Any, y: Any, batch_size: int) -> list[float]:
        """One step per batch, in order, each loss read back (for the lockstep check)."""
        return [
            self.epoch(x[s : s + batch_size], y[s : s + batch_size], batch_size)
            for s in range(0, x.shape[0], batch_size)
        ]

    def kernels(self) -> list[np.ndarray]:
        """The weight matrices in netcore's ``(in, out)`` layout, on the host."""
        return [lin.weight.detach().cpu().numpy().T.copy() for lin in self.linears]

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


class TorchWorker:
    """PyTorch in a separate process, driven over a pipe; it times its own epochs.

    Merely importing torch into the process that runs netcore slows netcore's CPU epochs
    (torch's OpenMP/MKL runtime beside OpenBLAS; docs/benchmarks.md has the numbers), and an
    idle worker costs nothing. So netcore and the GEMM floor run here, PyTorch runs there,
    and the two still alternate epoch by epoch. The worker rebuilds the same data from the
    same seed (``_common.make_data``).
    """

    def __init__(self, lr_scale: float = 1.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_torch_worker_main, args=(child, lr_scale), daemon=True)
        self._proc.start()
        child.close()

    def call(self, cmd: str, *args: Any) -> Any:
        self._conn.send((cmd, args))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"PyTorch worker failed on {cmd!r}:\n{value}")
        return value

    def close(self) -> None:
        try:
            self._conn.send(("stop", ()))
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(timeout=30)


#: The PyTorch contenders: result key -> ``torch.compile`` mode (None: eager).
TORCH_VARIANTS: dict[str, str | None] = {"torch": None, "torch_compile": "reduce-overhead"}


def _torch_setup(torch: Any, state: dict[str, Any], variant: str, lr_scale: float) -> str | None:
    """Build ``variant``'s trainer, warm it on the first batches, put it back to the initial
    weights, and move the epoch's data to its device. Returns None, or why it cannot run."""
    mode = TORCH_VARIANTS[variant]
    x, y, b = state["x"], state["y"], state["batch_size"]
    k = min(x.shape[0], 2 * b + (x.shape[0] % b))  # every shape an epoch meets, once
    try:
        if mode is not None:
            torch._dynamo.reset()  # earlier configurations' graphs: freed, and no recompile cap
        tt = TorchTrainer(torch, state["device"], state["weights"], lr_scale, mode)
        wx, wy = tt.tensors(x[:k], y[:k])
        tt.epoch(wx, wy, b)  # compiles (JIT, cuBLAS handles, CUDA graphs), fills allocators
        tt.synchronize()
    except Exception as exc:
        if mode is None:
            raise
        return f"torch.compile(mode={mode!r}) failed here: {type(exc).__name__}: {exc}"[:500]
    tt.reset(state["weights"])
    state["trainers"][variant] = tt
    if "tx" not in state or state["tx"].device != tt.device:
        state["tx"], state["ty"] = tt.tensors(x, y)
    return None


def _torch_worker_main(conn: Any, lr_scale: float) -> None:
    """The worker's loop: ``info``, ``setup``, ``lockstep``, ``epoch``, ``stop``."""
    import traceback

    import torch

    strict_float32(torch)
    state: dict[str, Any] = {}
    while True:
        cmd, args = conn.recv()
        if cmd == "stop":
            return
        try:
            value: Any = None
            if cmd == "info":
                value = {
                    "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(),
                    "torch_float32_matmul_precision": torch.get_float32_matmul_precision(),
                    "torch_cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
                    "torch_cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
                }
            elif cmd == "setup":  # -> {variant: None if ready, else why not}
                device, n, batch_size, weights, variants = args
                x, y = common.make_data(n)
                state.clear()
                state.update(
                    device=device, batch_size=batch_size, weights=weights, x=x, y=y, trainers={}
                )
                value = {v: _torch_setup(torch, state, v, lr_scale) for v in variants}
            elif cmd == "lockstep":  # fresh Adam, the initial weights, ``steps`` batches
                variant, steps = args
                tt, b = state["trainers"][variant], state["batch_size"]
                k = min(state["x"].shape[0], steps * b)
                tt.reset(state["weights"])
                losses = tt.step_losses(state["tx"][:k], state["ty"][:k], b)
                value = (losses, tt.kernels())
                tt.reset(state["weights"])
            elif cmd == "epoch":
                (variant,) = args
                tt = state["trainers"][variant]
                t0 = time.perf_counter()
                loss = tt.epoch(state["tx"], state["ty"], state["batch_size"])
                tt.synchronize()
                value = (time.perf_counter() - t0, loss)
            else:
                raise ValueError(f"unknown command {cmd!r}")
            conn.send((True, value))
        except Exception:  # report to the parent, keep serving
            conn.send((False, traceback.format_exc()))


def strict_float32(torch: Any) -> None:
    """No TF32 in PyTorch's CUDA matrix products and convolutions (true float32, as netcore)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def lockstep(
    device: str,
    x: Any,
    y: Any,
    batch_size: int,
    steps: int,
    worker: TorchWorker,
    rtol: float,
    variants: Sequence[str] = ("torch",),
) -> dict[str, dict[str, Any]]:
    """Fresh netcore and PyTorch trainers, same weights, ``steps`` steps on the same batches.

    Per PyTorch variant: the per-step losses, their largest relative difference, the largest
    absolute difference of the kernels afterwards, and whether the losses agree within ``rtol``.
    """
    k = min(x.shape[0], steps * batch_size)
    model = common.build_model(device)
    nc_losses = [
        float(model.train_on_batch(x[s : s + batch_size], y[s : s + batch_size])["loss"])
        for s in range(0, k, batch_size)
    ]
    nc_kernels = model.get_weights()[0::2]
    out = {}
    for variant in variants:
        torch_losses, torch_kernels = worker.call("lockstep", variant, steps)
        rel = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(nc_losses, torch_losses))
        dw = max(float(np.abs(kern - tk).max()) for kern, tk in zip(nc_kernels, torch_kernels))
        out[variant] = {
            "steps": len(nc_losses),
            "netcore": nc_losses,
            "torch": torch_losses,
            "max_rel_loss_diff": rel,
            "max_abs_kernel_diff": dw,
            "rtol": rtol,
            "match": rel <= rtol,
        }
    return out


# ---------------------------------------------------------------------------- one configuration
def _warm_up(device: str, x: Any, y: Any, batch_size: int) -> None:
    """JIT compilation, memory pools and BLAS threads warmed on throw-away models.

    Two full batches plus the epoch's short last batch (when there is one), so every shape the
    timed epochs meet has been seen once.
    """
    n = x.shape[0]
    k = min(n, 2 * batch_size + (n % batch_size))
    for jit in netcore_modes(device):
        m = netcore_model(device, jit)
        m.fit(x[:k], y[:k], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    common.StepGemms(device, batch_size).epoch(x[:k], batch_size)
    common.synchronize(device)


def netcore_modes(device: str) -> tuple[bool, ...]:
    """``jit_compile`` values timed on ``device``: eager everywhere, captured on the GPU."""
    return (False, True) if device == "cuda" else (False,)


def netcore_model(device: str, jit_compile: bool) -> Any:
    """The course MLP compiled with ``jit_compile`` (same seed: same initial weights)."""
    model = common.build_model(device)
    model.compile(model.optimizer, model.loss, jit_compile=jit_compile)
    return model


def _loss_check(nc_loss: float, torch_loss: float, rtol: float) -> dict[str, Any]:
    rel = abs(nc_loss - torch_loss) / max(abs(torch_loss), 1e-12)
    return {
        "netcore": nc_loss,
        "torch": torch_loss,
        "rel_diff": rel,
        "rtol": rtol,
        "match": rel <= rtol,
    }


def run_config(
    device: str,
    batch_size: int,
    n: int,
    repeats: int,
    worker: TorchWorker | None,
    loss_rtol: float,
    lockstep_steps: int = 20,
    lockstep_rtol: float = 1e-3,
    log: Any = print,
    torch_variants: Sequence[str] = ("torch",),
) -> dict[str, Any]:
    """Time ``repeats`` alternating epochs of netcore, each PyTorch variant and the GEMM floor.

    ``torch_variants`` are keys of :data:`TORCH_VARIANTS`; one that cannot run here (say,
    ``torch.compile`` without its compiler) is left out and the reason recorded under
    ``torch_notes``.
    """
    x_host, y_host = common.make_data(n)
    x_dev, y_dev = common.to_backend(device, x_host, y_host)
    model = netcore_model(device, False)
    captured = netcore_model(device, True) if True in netcore_modes(device) else None
    weights = model.get_weights()
    _warm_up(device, x_dev, y_dev, batch_size)
    notes: dict[str, str] = {}
    variants: list[str] = []
    if worker is not None:
        ready = worker.call("setup", device, n, batch_size, weights, list(torch_variants))
        notes = {v: why for v, why in ready.items() if why is not None}
        variants = [v for v in torch_variants if v not in notes]
        for v, why in notes.items():
            log(f"  [{device} b={batch_size}] {v} left out: {why}")
    locks = (
        lockstep(device, x_dev, y_dev, batch_size, lockstep_steps, worker, lockstep_rtol, variants)
        if worker is not None and lockstep_steps > 0
        else {}
    )
    for v, lock in locks.items():
        log(
            f"  [{device} b={batch_size}] lockstep{'' if v == 'torch' else ' ' + v} "
            f"{lock['steps']} steps: max rel loss diff {lock['max_rel_loss_diff']:.1e}, "
            f"max |kernel diff| {lock['max_abs_kernel_diff']:.1e}"
        )
    floor = common.StepGemms(device, batch_size)

    times: dict[str, list[float]] = {"netcore": [], "torch": [], "gemm": []}
    times.update({v: [] for v in variants if v != "torch"})
    losses: dict[str, list[float]] = {"netcore": [], "torch": []}
    losses.update({v: [] for v in variants if v != "torch"})
    if captured is not None:
        times["netcore_captured"], losses["netcore_captured"] = [], []

    def netcore_runner(key: str, m: Any) -> Any:
        def run() -> None:
            t0 = time.perf_counter()
            hist = m.fit(x_dev, y_dev, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
            common.synchronize(device)
            times[key].append(time.perf_counter() - t0)
            losses[key].append(float(hist.history["loss"][-1]))

        return run

    run_netcore = netcore_runner("netcore", model)

    def torch_runner(variant: str) -> Any:
        def run() -> None:
            if variant not in variants:
                return
            # timed inside the worker, synchronised there
            seconds, loss = worker.call("epoch", variant)  # type: ignore[union-attr]
            times[variant].append(seconds)
            losses[variant].append(loss)

        return run

    def run_gemm() -> None:
        t0 = time.perf_counter()
        floor.epoch(x_dev, batch_size)
        common.synchronize(device)
        times["gemm"].append(time.perf_counter() - t0)

    order = [run_netcore, torch_runner("torch"), run_gemm]
    order += [torch_runner(v) for v in variants if v != "torch"]
    if captured is not None:
        order.append(netcore_runner("netcore_captured", captured))
    for r in range(repeats):
        # rotate who goes first, so drifting machine load favours nobody
        k = r % len(order)
        for fn in order[k:] + order[:k]:
            fn()
        log(
            f"  [{device} b={batch_size}] epoch {r + 1}/{repeats}: netcore {times['netcore'][-1]:.3f}s"
            + (f", torch {times['torch'][-1]:.3f}s" if times["torch"] else "")
            + "".join(f", {v} {times[v][-1]:.3f}s" for v in variants if v != "torch")
            + f", gemm floor {times['gemm'][-1]:.3f}s"
            + (f", netcore captured {times['netcore_captured'][-1]:.3f}s" if captured else "")
        )

    med = {k: (statistics.median(v) if v else None) for k, v in times.items()}
    nc_med, gemm_med, torch_med = med["netcore"], med["gemm"], med["torch"]
    assert nc_med is not None and gemm_med is not None  # repeats >= 1
    res: dict[str, Any] = {
        "device": device,
        "batch_size": batch_size,
        "samples": n,
        "repeats": repeats,
        "times_s": times,
        "median_s": med,
        "min_s": {k: (min(v) if v else None) for k, v in times.items()},
        "losses": losses,
        "netcore_samples_per_s": n / nc_med,
        "gemm_samples_per_s": n / gemm_med,
        "torch_samples_per_s": n / torch_med if torch_med else None,
        "ratio_netcore_over_torch": nc_med / torch_med if torch_med else None,
        "ratio_netcore_over_gemm": nc_med / gemm_med,
    }
    for v in variants:
        v_med = med[v]
        if v != "torch":
            res[f"ratio_netcore_over_{v}"] = nc_med / v_med if v_med else None
    cap_med = med.get("netcore_captured")
    if cap_med:
        for other in ("netcore", "torch", "gemm", *variants):
            o_med = med.get(other)
            res[f"ratio_netcore_captured_over_{other}"] = cap_med / o_med if o_med else None
        check = _loss_check(losses["netcore_captured"][0], losses["netcore"][0], loss_rtol)
        check["netcore_captured"], check["netcore"] = check.pop("netcore"), check.pop("torch")
        res["loss_first_epoch_captured"] = check  # captured against eager, same weights
    if notes:
        res["torch_notes"] = notes
    for v, lock in locks.items():
        res["lockstep" if v == "torch" else f"lockstep_{v}"] = lock
    for v in variants:
        if losses[v]:
            key = "loss_first_epoch" if v == "torch" else f"loss_first_epoch_{v}"
            res[key] = _loss_check(losses["netcore"][0], losses[v][0], loss_rtol)
    return res


# ---------------------------------------------------------------------------- reporting
def machine_info(devices: Sequence[str], worker: TorchWorker | None) -> dict[str, Any]:
    """What ran this: CPU, cores, library versions, BLAS, GPU name."""
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: d.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for d in threadpool_info()
        ]
    except ImportError:
        pass
    import netcore

    info["netcore"] = netcore.__version__
    info["netcore_cpu_fused_ops"] = list(common.build_backend("cpu").fused_ops)
    info["CUPY_TF32"] = os.environ.get("CUPY_TF32")
    if worker is not None:
        info.update(worker.call("info"))
    if "cuda" in devices:
        from netcore.backend.report import device_report

        report = device_report()
        info["gpu"] = report.gpu or f"unavailable: {report.problem}"
        info["gpu_report"] = report.as_dict()
        info["cupy"] = report.cupy
        try:
            info["netcore_cuda_fused_ops"] = list(common.build_backend("cuda").fused_ops)
        except Exception as exc:  # only descriptive
            info["netcore_cuda_fused_ops"] = f"unavailable: {exc}"
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(results: Sequence[dict[str, Any]], print_fn: Any = print) -> None:
    """The medians and ratios, one row per device and batch size (``torch.compile`` columns
    when any row has them)."""
    compiled = any(r["median_s"].get("torch_compile") is not None for r in results)
    captured = any(r["median_s"].get("netcore_captured") is not None for r in results)
    head = (
        f"{'device':6} {'batch':>6} {'netcore s':>10} {'torch s':>9} {'gemm s':>8} "
        f"{'nc/torch':>9} {'nc/gemm':>8} {'nc samples/s':>13} {'loss nc':>9} {'loss torch':>10} "
        f"{'lockstep':>9}"
    )
    if compiled:
        head += f" {'compile s':>10} {'nc/compile':>10} {'lockstep c':>10}"
    if captured:
        head += f" {'captured s':>10} {'cap/torch':>9} {'cap/eager':>9}"
    print_fn(head)
    print_fn("-" * len(head))
    for r in results:
        lf = r.get("loss_first_epoch", {})
        lk = r.get("lockstep", {})
        line = (
            f"{r['device']:6} {r['batch_size']:>6} {r['median_s']['netcore']:>10.3f} "
            f"{_fmt(r['median_s']['torch'], '>9.3f')} {r['median_s']['gemm']:>8.3f} "
            f"{_fmt(r['ratio_netcore_over_torch'], '>9.3f')} {r['ratio_netcore_over_gemm']:>8.3f} "
            f"{r['netcore_samples_per_s']:>13,.0f} {_fmt(lf.get('netcore'), '>9.5f')} "
            f"{_fmt(lf.get('torch'), '>10.5f')} {_fmt(lk.get('max_rel_loss_diff'), '>9.1e')}"
        )
        if compiled:
            lc = r.get("lockstep_torch_compile", {})
            line += (
                f" {_fmt(r['median_s'].get('torch_compile'), '>10.3f')} "
                f"{_fmt(r.get('ratio_netcore_over_torch_compile'), '>10.3f')} "
                f"{_fmt(lc.get('max_rel_loss_diff'), '>10.1e')}"
            )
        if captured:
            line += (
                f" {_fmt(r['median_s'].get('netcore_captured'), '>10.3f')} "
                f"{_fmt(r.get('ratio_netcore_captured_over_torch'), '>9.3f')} "
                f"{_fmt(r.get('ratio_netcore_captured_over_netcore'), '>9.3f')}"
            )
        print_fn(line)


#: Targets, checked and reported (never enforced): batch size -> (contender, largest
#: netcore/contender epoch-time ratio). On the CPU, PyTorch eager and the GEMM floor; on the
#: GPU, PyTorch eager and ``torch.compile(mode="reduce-overhead")``.
CPU_TARGETS: dict[int, list[tuple[str, float]]] = {
    32: [("torch", 0.40)],
    128: [("torch", 0.45), ("gemm", 1.3)],
}
GPU_TARGETS: dict[int, list[tuple[str, float]]] = {
    32: [("torch", 0.5)],
    128: [("torch", 0.5), ("torch_compile", 1.0)],
}
_CONTENDER_NAMES = {"torch": "torch", "gemm": "gemm floor", "torch_compile": "torch.compile"}


def check_targets(results: Sequence[dict[str, Any]]) -> list[str]:
    """One line per target that these results can speak to: met or missed, by how much."""
    lines = []
    for r in results:
        b, dev = r["batch_size"], r["device"]
        table = CPU_TARGETS if dev == "cpu" else GPU_TARGETS
        for subject in ("netcore", "netcore_captured"):  # eager, and captured on the GPU
            for contender, goal in table.get(b, []):
                got = r.get(f"ratio_{subject}_over_{contender}")
                if got is None:
                    continue
                verdict = "MET" if got <= goal else f"MISSED by {got / goal - 1:.0%}"
                who = subject.replace("_", " ")
                lines.append(
                    f"target {dev} b={b}: {who}/{_CONTENDER_NAMES[contender]} = {got:.3f} "
                    f"(<= {goal}) {verdict}"
                )
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "all"),
        default="cpu",
        help="where to run (all: cpu, then cuda when usable); default cpu",
    )
    p.add_argument(
        "--batch-sizes",
        default=",".join(map(str, common.BATCH_SIZES)),
        help="comma-separated batch sizes (default %(default)s)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="alternating epochs per configuration; medians are reported (default 3)",
    )
    p.add_argument(
        "--epochs-samples",
        type=int,
        default=common.EPOCH_SAMPLES,
        help="samples in one epoch (default %(default)s)",
    )
    p.add_argument(
        "--loss-rtol",
        type=float,
        default=2e-3,
        help="relative tolerance on the first-epoch mean loss (default %(default)s)",
    )
    p.add_argument(
        "--lockstep-steps",
        type=int,
        default=20,
        help="steps of the lockstep check before timing; 0 skips it (default %(default)s)",
    )
    p.add_argument(
        "--lockstep-rtol",
        type=float,
        default=1e-3,
        help="relative tolerance on each lockstep loss (default %(default)s)",
    )
    p.add_argument("--no-torch", action="store_true", help="time netcore and the GEMM floor only")
    p.add_argument(
        "--torch-compile",
        choices=("auto", "on", "off"),
        default="auto",
        help="also time torch.compile(mode='reduce-overhead'); auto: on the GPU only, "
        "where that mode means CUDA graphs (default auto)",
    )
    p.add_argument(
        "--torch-lr-scale",
        type=float,
        default=1.0,
        help="multiply PyTorch's learning rate (only to see the checks fail; default 1)",
    )
    p.add_argument("--json", metavar="OUT", help="write all results to this JSON file")
    args = p.parse_args(argv)
    try:
        args.batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    except ValueError:
        p.error(f"--batch-sizes must be comma-separated integers, received {args.batch_sizes!r}")
    if not args.batch_sizes or min(args.batch_sizes) <= 0:
        p.error("--batch-sizes needs at least one positive integer")
    if args.repeats < 1 or args.epochs_samples < 1:
        p.error("--repeats and --epochs-samples must be positive")
    return args


def torch_variants(device: str, torch_compile: str) -> list[str]:
    """The PyTorch contenders on ``device``: eager always; ``torch.compile`` per the option.

    ``auto`` leaves it out on the CPU: there ``reduce-overhead`` cannot use CUDA graphs (its
    point) and falls back to Inductor's C++ code, compiled per batch shape in tens of seconds.
    """
    on = torch_compile == "on" or (torch_compile == "auto" and device == "cuda")
    return ["torch", "torch_compile"] if on else ["torch"]


def report_mismatches(results: Sequence[dict[str, Any]]) -> list[str]:
    """Print a line per failed lockstep or first-epoch loss check (any PyTorch variant)."""
    mismatches = []
    for r in results:
        where = f"{r['device']} b={r['batch_size']}"
        for v in TORCH_VARIANTS:
            tag = "" if v == "torch" else f"_{v}"
            against = "" if v == "torch" else f" ({v})"
            lk, lf = r.get(f"lockstep{tag}"), r.get(f"loss_first_epoch{tag}")
            if lk is not None and not lk["match"]:
                mismatches.append(f"lockstep {where}{against}")
                print(
                    f"LOCKSTEP MISMATCH {where}{against}: per-step losses differ by "
                    f"up to {lk['max_rel_loss_diff']:.2e} (> {lk['rtol']:.0e})"
                )
            if lf is not None and not lf["match"]:
                mismatches.append(f"loss {where}{against}")
                print(
                    f"LOSS MISMATCH {where}{against}: netcore {lf['netcore']:.6f} vs "
                    f"torch {lf['torch']:.6f} (rel {lf['rel_diff']:.2e} > {lf['rtol']:.0e})"
                )
        lc = r.get("loss_first_epoch_captured")
        if lc is not None and not lc["match"]:
            mismatches.append(f"captured loss {where}")
            print(
                f"LOSS MISMATCH {where}: netcore captured {lc['netcore_captured']:.6f} vs "
                f"netcore eager {lc['netcore']:.6f} (rel {lc['rel_diff']:.2e} > {lc['rtol']:.0e})"
            )
    return mismatches


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    runnable = []
    for dev in devices:
        try:
            common.check_backend(dev)
            runnable.append(dev)
        except common.Unavailable as exc:
            print(f"skipping device {dev}: {exc}")
    if not runnable:
        print("nothing to run")
        return 0 if args.device == "all" else 2
    have_torch, torch_note = (False, "--no-torch given") if args.no_torch else torch_status()
    worker = TorchWorker(args.torch_lr_scale) if have_torch else None
    if worker is None:
        print(f"skipping PyTorch: {torch_note}")
    try:
        return _run(args, runnable, worker, torch_note)
    finally:
        if worker is not None:
            worker.close()


def _run(
    args: argparse.Namespace, runnable: list[str], worker: TorchWorker | None, torch_note: str
) -> int:
    info = machine_info(runnable, worker)
    print(
        f"machine: {info['cpu']}, {info['cores']} cores; numpy {info['numpy']}, "
        f"torch {info.get('torch', '-')} ({info.get('torch_threads', '-')} threads)"
        + (f"; GPU {info['gpu']}" if "gpu" in info else "")
    )
    results = []
    for dev in runnable:
        for b in args.batch_sizes:
            results.append(
                run_config(
                    dev,
                    b,
                    args.epochs_samples,
                    args.repeats,
                    worker,
                    args.loss_rtol,
                    args.lockstep_steps,
                    args.lockstep_rtol,
                    torch_variants=torch_variants(dev, args.torch_compile),
                )
            )
    print()
    print_table(results)
    target_lines = check_targets(results) if args.epochs_samples == common.EPOCH_SAMPLES else []
    for line in target_lines:
        print(line)
    mismatches = report_mismatches(results)
    if args.json:
        out = {
            "machine": info,
            "torch": torch_note,
            "settings": {
                "devices": runnable,
                "batch_sizes": args.batch_sizes,
                "repeats": args.repeats,
                "samples": args.epochs_samples,
                "torch_compile": args.torch_compile,
                "shuffle": False,
                "model": list(common.LAYER_SIZES),
                "adam": {
                    "learning_rate": common.LEARNING_RATE,
                    "beta_1": common.BETA_1,
                    "beta_2": common.BETA_2,
                    "epsilon": common.EPSILON,
                },
            },
            "results": results,
            "targets": target_lines,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        common.write_json_result(args.json, out)
        print(f"wrote {args.json}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
