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

PyTorch runs in a separate worker process (:class:`TorchWorker`): importing torch into the
process that runs netcore slowed netcore's CPU epochs by ~30% here.

Two checks make sure it is the same work, not just the same shapes; a failure exits with
status 1 (the timings are still printed and written):

* lockstep: before timing, fresh copies of both trainers take ``--lockstep-steps`` steps on the
  same batches and their per-step losses must agree within ``--lockstep-rtol`` (1e-3). Same
  work agrees to 1e-7..1e-4 here (more at large batches, where Adam's sign-like first steps
  flip weights whose gradient is ~0); a 10% change of the learning rate differs by 3-10%.
  The largest weight difference after those steps is reported too;
* the mean training loss over the first timed epoch must agree within ``--loss-rtol``
  (2e-3). Over a whole epoch, rounding differences (OpenBLAS against MKL, cuBLAS against
  OpenBLAS, float32 against float64) grow to a few 1e-4 on this data, so this is the coarser
  check.

PyTorch's TF32 matrix products are switched off, so both sides compute in true float32 (CuPy
uses TF32 only when ``CUPY_TF32=1``; the value is recorded with the results).

Run from the repository root::

    python benchmarks/compare.py --device cpu --batch-sizes 32,128 --repeats 3 --json out.json
    PYTHONPATH=. python3 benchmarks/compare.py --device cuda --json $OUT/compare_gpu.json

PyTorch is optional: without it, netcore and the GEMM floor are still timed and the PyTorch
columns say why they are empty. On the CPU-only development machines install the pinned CPU
build with ``pip install torch==2.13.0``.
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import multiprocessing
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and ``netcore`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as common  # noqa: E402

#: Targets from issue 4, checked (and reported, never enforced) for the CPU runs.
CPU_TARGETS = {32: ("torch", 0.40), 128: ("torch", 0.45)}
CPU_GEMM_TARGET = {128: 1.3}
GPU_TARGETS = {128: ("torch", 1.0), 1024: ("torch", 1.0)}


# ---------------------------------------------------------------------------- PyTorch side
def torch_status() -> tuple[bool, str]:
    """``(installed, note)``, without importing torch into this process (see :class:`TorchWorker`)."""
    if importlib.util.find_spec("torch") is None:
        return False, ("PyTorch is not installed; on the CPU-only dev machines: "
                       "pip install torch==2.13.0")
    return True, "PyTorch runs in its own process"


class TorchTrainer:
    """The same MLP in PyTorch eager mode, starting from netcore's weights.

    ``weights`` is netcore's ``get_weights()`` list: per Dense layer a kernel ``(in, out)``
    and a bias ``(out,)``.
    """

    def __init__(self, torch: Any, device: str, weights: Sequence[np.ndarray]) -> None:
        self.torch = torch
        self.device = torch.device("cuda" if device == "cuda" else "cpu")
        nn = torch.nn
        layers: list[Any] = []
        sizes = common.LAYER_SIZES
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.model = nn.Sequential(*layers).to(self.device)
        linears = [m for m in self.model if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for lin, kernel, bias in zip(linears, weights[0::2], weights[1::2]):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
                lin.bias.copy_(torch.from_numpy(np.asarray(bias)))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=common.LEARNING_RATE,
                                    betas=(common.BETA_1, common.BETA_2), eps=common.EPSILON)
        self.steps = 0

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
        model.train()
        for s in range(0, n, batch_size):
            xb, yb = x[s:s + batch_size], y[s:s + batch_size]
            self.steps += 1
            # Keras' epsilon, expressed in torch's bias-corrected denominator (see module doc).
            group["eps"] = common.EPSILON / math.sqrt(1.0 - common.BETA_2 ** self.steps)
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.detach() * xb.shape[0]
        return float(total.item()) / n

    def step_losses(self, x: Any, y: Any, batch_size: int) -> list[float]:
        """One step per batch, in order, each loss read back (for the lockstep check)."""
        return [self.epoch(x[s:s + batch_size], y[s:s + batch_size], batch_size)
                for s in range(0, x.shape[0], batch_size)]

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()


class TorchWorker:
    """PyTorch in a separate process, driven over a pipe; it times its own epochs.

    Merely importing torch into the process that runs netcore slowed netcore's CPU epoch by
    ~30% on the 2-core development VM (1.02 s -> 1.35 s at batch 128; torch's OpenMP/MKL
    runtime living beside OpenBLAS), and an idle worker costs nothing. So netcore and the GEMM
    floor run here, PyTorch runs there, and the two still alternate epoch by epoch. The
    worker rebuilds the same data from the same seed (``_common.make_data``).
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
            if cmd == "info":
                value: Any = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                              "torch_float32_matmul_precision": torch.get_float32_matmul_precision(),
                              "torch_cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32)}
            elif cmd == "setup":
                device, n, batch_size, weights = args
                x, y = common.make_data(n)
                state.update(device=device, batch_size=batch_size, weights=weights, x=x, y=y)
                k = min(n, 2 * batch_size + (n % batch_size))
                warm = _make_trainer(torch, device, weights, lr_scale)
                wx, wy = warm.tensors(x[:k], y[:k])
                warm.epoch(wx, wy, batch_size)
                warm.synchronize()
                state["trainer"] = _make_trainer(torch, device, weights, lr_scale)
                state["tx"], state["ty"] = state["trainer"].tensors(x, y)
                value = None
            elif cmd == "lockstep":
                (steps,) = args
                b = state["batch_size"]
                k = min(state["x"].shape[0], steps * b)
                tt = _make_trainer(torch, state["device"], state["weights"], lr_scale)
                tx, ty = tt.tensors(state["x"][:k], state["y"][:k])
                losses = tt.step_losses(tx, ty, b)
                kernels = [lin.weight.detach().cpu().numpy().T.copy() for lin in tt.model
                           if isinstance(lin, torch.nn.Linear)]
                value = (losses, kernels)
            elif cmd == "epoch":
                tt = state["trainer"]
                t0 = time.perf_counter()
                loss = tt.epoch(state["tx"], state["ty"], state["batch_size"])
                tt.synchronize()
                value = (time.perf_counter() - t0, loss)
            else:
                raise ValueError(f"unknown command {cmd!r}")
            conn.send((True, value))
        except Exception:  # report to the parent, keep serving
            conn.send((False, traceback.format_exc()))


def _make_trainer(torch: Any, device: str, weights: Sequence[np.ndarray], lr_scale: float) -> TorchTrainer:
    tt = TorchTrainer(torch, device, weights)
    if lr_scale != 1.0:  # only for testing that the checks catch different work
        tt.opt.param_groups[0]["lr"] *= lr_scale
    return tt


def strict_float32(torch: Any) -> None:
    """No TF32 in PyTorch's CUDA matrix products and convolutions (true float32, as netcore)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def lockstep(device: str, x: Any, y: Any, batch_size: int, steps: int, worker: TorchWorker,
             rtol: float) -> dict[str, Any]:
    """Fresh netcore and PyTorch trainers, same weights, ``steps`` steps on the same batches.

    Returns the per-step losses, their largest relative difference, the largest absolute
    difference of the kernels afterwards, and whether the losses agree within ``rtol``.
    """
    k = min(x.shape[0], steps * batch_size)
    model = common.build_model(device)
    nc_losses = [float(model.train_on_batch(x[s:s + batch_size], y[s:s + batch_size])["loss"])
                 for s in range(0, k, batch_size)]
    torch_losses, torch_kernels = worker.call("lockstep", steps)
    rel = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(nc_losses, torch_losses))
    dw = max(float(np.abs(kern - tk).max())
             for kern, tk in zip(model.get_weights()[0::2], torch_kernels))
    return {"steps": len(nc_losses), "netcore": nc_losses, "torch": torch_losses,
            "max_rel_loss_diff": rel, "max_abs_kernel_diff": dw, "rtol": rtol,
            "match": rel <= rtol}


# ---------------------------------------------------------------------------- one configuration
def _warm_up(device: str, x: Any, y: Any, batch_size: int) -> None:
    """JIT compilation, memory pools and BLAS threads warmed on throw-away models.

    Two full batches plus the epoch's short last batch (when there is one), so every shape the
    timed epochs meet has been seen once.
    """
    n = x.shape[0]
    k = min(n, 2 * batch_size + (n % batch_size))
    m = common.build_model(device)
    m.fit(x[:k], y[:k], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    common.StepGemms(device, batch_size).epoch(x[:k], batch_size)
    common.synchronize(device)


def run_config(device: str, batch_size: int, n: int, repeats: int, worker: TorchWorker | None,
               loss_rtol: float, lockstep_steps: int = 20, lockstep_rtol: float = 1e-3,
               log: Any = print) -> dict[str, Any]:
    """Time ``repeats`` alternating epochs of netcore, PyTorch and the GEMM floor."""
    x_host, y_host = common.make_data(n)
    x_dev, y_dev = common.to_backend(device, x_host, y_host)
    model = common.build_model(device)
    weights = model.get_weights()
    _warm_up(device, x_dev, y_dev, batch_size)
    if worker is not None:
        worker.call("setup", device, n, batch_size, weights)
    lock = (lockstep(device, x_dev, y_dev, batch_size, lockstep_steps, worker, lockstep_rtol)
            if worker is not None and lockstep_steps > 0 else None)
    if lock is not None:
        log(f"  [{device} b={batch_size}] lockstep {lock['steps']} steps: max rel loss diff "
            f"{lock['max_rel_loss_diff']:.1e}, max |kernel diff| {lock['max_abs_kernel_diff']:.1e}")
    floor = common.StepGemms(device, batch_size)

    times: dict[str, list[float]] = {"netcore": [], "torch": [], "gemm": []}
    losses: dict[str, list[float]] = {"netcore": [], "torch": []}

    def run_netcore() -> None:
        t0 = time.perf_counter()
        hist = model.fit(x_dev, y_dev, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        common.synchronize(device)
        times["netcore"].append(time.perf_counter() - t0)
        losses["netcore"].append(float(hist.history["loss"][-1]))

    def run_torch() -> None:
        if worker is None:
            return
        seconds, loss = worker.call("epoch")  # timed inside the worker, synchronised there
        times["torch"].append(seconds)
        losses["torch"].append(loss)

    def run_gemm() -> None:
        t0 = time.perf_counter()
        floor.epoch(x_dev, batch_size)
        common.synchronize(device)
        times["gemm"].append(time.perf_counter() - t0)

    order = [run_netcore, run_torch, run_gemm]
    for r in range(repeats):
        # rotate who goes first, so drifting machine load favours nobody
        for fn in order[r % 3:] + order[:r % 3]:
            fn()
        log(f"  [{device} b={batch_size}] epoch {r + 1}/{repeats}: netcore {times['netcore'][-1]:.3f}s"
            + (f", torch {times['torch'][-1]:.3f}s" if times["torch"] else "")
            + f", gemm floor {times['gemm'][-1]:.3f}s")

    nc_med, gemm_med = statistics.median(times["netcore"]), statistics.median(times["gemm"])
    torch_med = statistics.median(times["torch"]) if times["torch"] else None
    res: dict[str, Any] = {
        "device": device, "batch_size": batch_size, "samples": n, "repeats": repeats,
        "times_s": times, "median_s": {"netcore": nc_med, "torch": torch_med, "gemm": gemm_med},
        "min_s": {k: (min(v) if v else None) for k, v in times.items()},
        "losses": losses,
        "netcore_samples_per_s": n / nc_med,
        "gemm_samples_per_s": n / gemm_med,
        "torch_samples_per_s": n / torch_med if torch_med else None,
        "ratio_netcore_over_torch": nc_med / torch_med if torch_med else None,
        "ratio_netcore_over_gemm": nc_med / gemm_med,
    }
    if lock is not None:
        res["lockstep"] = lock
    if losses["torch"]:
        a, b = losses["netcore"][0], losses["torch"][0]
        rel = abs(a - b) / max(abs(b), 1e-12)
        res["loss_first_epoch"] = {"netcore": a, "torch": b, "rel_diff": rel, "rtol": loss_rtol,
                                   "match": rel <= loss_rtol}
    return res


# ---------------------------------------------------------------------------- reporting
def machine_info(devices: Sequence[str], worker: TorchWorker | None) -> dict[str, Any]:
    """What ran this: CPU, cores, library versions, BLAS, GPU name."""
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(), "python": platform.python_version(),
        "cpu": _cpu_name(), "cores": os.cpu_count(), "numpy": np.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "num_threads",
                                                "architecture")} for d in threadpool_info()]
    except ImportError:
        pass
    import netcore

    info["netcore"] = netcore.__version__
    info["netcore_cpu_fused_ops"] = list(common.build_backend("cpu").fused_ops)
    info["CUPY_TF32"] = os.environ.get("CUPY_TF32")
    if worker is not None:
        info.update(worker.call("info"))
    if "cuda" in devices:
        try:
            common.check_backend("cuda")
            import cupy

            props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
            name = props["name"]
            info["gpu"] = name.decode() if isinstance(name, bytes) else name
            info["cupy"] = cupy.__version__
            info["netcore_cuda_fused_ops"] = list(common.build_backend("cuda").fused_ops)
        except Exception as exc:  # only descriptive
            info["gpu"] = f"unavailable: {exc}"
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
    """The medians and ratios, one row per device and batch size."""
    head = (f"{'device':6} {'batch':>6} {'netcore s':>10} {'torch s':>9} {'gemm s':>8} "
            f"{'nc/torch':>9} {'nc/gemm':>8} {'nc samples/s':>13} {'loss nc':>9} {'loss torch':>10} "
            f"{'lockstep':>9}")
    print_fn(head)
    print_fn("-" * len(head))
    for r in results:
        lf = r.get("loss_first_epoch", {})
        lk = r.get("lockstep", {})
        print_fn(f"{r['device']:6} {r['batch_size']:>6} {r['median_s']['netcore']:>10.3f} "
                 f"{_fmt(r['median_s']['torch'], '>9.3f')} {r['median_s']['gemm']:>8.3f} "
                 f"{_fmt(r['ratio_netcore_over_torch'], '>9.3f')} {r['ratio_netcore_over_gemm']:>8.3f} "
                 f"{r['netcore_samples_per_s']:>13,.0f} {_fmt(lf.get('netcore'), '>9.5f')} "
                 f"{_fmt(lf.get('torch'), '>10.5f')} {_fmt(lk.get('max_rel_loss_diff'), '>9.1e')}")


def check_targets(results: Sequence[dict[str, Any]]) -> list[str]:
    """One line per issue-4 target that these results can speak to: met or missed, by how much."""
    lines = []
    for r in results:
        b, dev = r["batch_size"], r["device"]
        goals = []
        table = CPU_TARGETS if dev == "cpu" else GPU_TARGETS
        if b in table and r["ratio_netcore_over_torch"] is not None:
            goals.append(("netcore/torch", r["ratio_netcore_over_torch"], table[b][1]))
        if dev == "cpu" and b in CPU_GEMM_TARGET:
            goals.append(("netcore/gemm floor", r["ratio_netcore_over_gemm"], CPU_GEMM_TARGET[b]))
        for what, got, goal in goals:
            verdict = "MET" if got <= goal else f"MISSED by {got / goal - 1:.0%}"
            lines.append(f"target {dev} b={b}: {what} = {got:.3f} (<= {goal}) {verdict}")
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda", "all"), default="cpu",
                   help="where to run (all: cpu, then cuda when usable); default cpu")
    p.add_argument("--batch-sizes", default=",".join(map(str, common.BATCH_SIZES)),
                   help="comma-separated batch sizes (default %(default)s)")
    p.add_argument("--repeats", type=int, default=3,
                   help="alternating epochs per configuration; medians are reported (default 3)")
    p.add_argument("--epochs-samples", type=int, default=common.EPOCH_SAMPLES,
                   help="samples in one epoch (default %(default)s)")
    p.add_argument("--loss-rtol", type=float, default=2e-3,
                   help="relative tolerance on the first-epoch mean loss (default %(default)s)")
    p.add_argument("--lockstep-steps", type=int, default=20,
                   help="steps of the lockstep check before timing; 0 skips it (default %(default)s)")
    p.add_argument("--lockstep-rtol", type=float, default=1e-3,
                   help="relative tolerance on each lockstep loss (default %(default)s)")
    p.add_argument("--no-torch", action="store_true", help="time netcore and the GEMM floor only")
    p.add_argument("--torch-lr-scale", type=float, default=1.0,
                   help="multiply PyTorch's learning rate (only to see the checks fail; default 1)")
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


def _run(args: argparse.Namespace, runnable: list[str], worker: TorchWorker | None,
         torch_note: str) -> int:
    info = machine_info(runnable, worker)
    print(f"machine: {info['cpu']}, {info['cores']} cores; numpy {info['numpy']}, "
          f"torch {info.get('torch', '-')} ({info.get('torch_threads', '-')} threads)"
          + (f"; GPU {info['gpu']}" if "gpu" in info else ""))
    results = []
    for dev in runnable:
        for b in args.batch_sizes:
            results.append(run_config(dev, b, args.epochs_samples, args.repeats, worker,
                                      args.loss_rtol, args.lockstep_steps, args.lockstep_rtol))
    print()
    print_table(results)
    target_lines = check_targets(results) if args.epochs_samples == common.EPOCH_SAMPLES else []
    for line in target_lines:
        print(line)
    mismatches = []
    for r in results:
        lf, lk = r.get("loss_first_epoch"), r.get("lockstep")
        if lk is not None and not lk["match"]:
            mismatches.append(r)
            print(f"LOCKSTEP MISMATCH {r['device']} b={r['batch_size']}: per-step losses differ by "
                  f"up to {lk['max_rel_loss_diff']:.2e} (> {lk['rtol']:.0e})")
        if lf is not None and not lf["match"]:
            mismatches.append(r)
            print(f"LOSS MISMATCH {r['device']} b={r['batch_size']}: netcore {lf['netcore']:.6f} vs "
                  f"torch {lf['torch']:.6f} (rel {lf['rel_diff']:.2e} > {lf['rtol']:.0e})")
    if args.json:
        out = {"machine": info, "torch": torch_note,
               "settings": {"devices": runnable, "batch_sizes": args.batch_sizes,
                            "repeats": args.repeats, "samples": args.epochs_samples,
                            "shuffle": False, "model": list(common.LAYER_SIZES),
                            "adam": {"learning_rate": common.LEARNING_RATE, "beta_1": common.BETA_1,
                                     "beta_2": common.BETA_2, "epsilon": common.EPSILON}},
               "results": results, "targets": target_lines}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
