"""The course CNN in netcore against the same network in PyTorch, one training step at a time.

The network is :func:`netcore.course.build_cnn` (24 classes, 264,049 parameters) trained with
categorical cross-entropy and Keras' default RMSprop, no metrics, ``shuffle=False``, on the
same synthetic 28x28x1 images in the same batch order. PyTorch runs in its own process (as in
``compare.py``: its thread runtime beside OpenBLAS slows both), with ``torch.set_num_threads``
(``--torch-threads``, 2) and its oneDNN convolutions, and starts from netcore's initial weights:

* Conv2D kernel ``(kh, kw, c_in, c_out)`` -> torch ``(c_out, c_in, kh, kw)``; "same" padding
  of a 3x3 stride-1 kernel is ``padding=1``;
* BatchNormalization: gamma, beta, moving mean and variance -> weight, bias, running stats,
  ``eps=1e-3``, ``momentum=0.01`` (torch's momentum is 1 - Keras');
* MaxPool2D((2, 2), strides=2, "same"): 28 -> 14 -> 7 -> 4, the last with a bottom/right row
  and column of -inf (Keras puts the odd pixel there);
* Flatten of channels-last maps: torch permutes NCHW to NHWC before flattening, so the Dense
  kernel ``(400, 512)`` is torch's ``weight.T`` unchanged;
* RMSprop as Keras writes it, ``v = rho v + (1 - rho) g^2``, ``w -= lr g / sqrt(v + eps)``
  (epsilon inside the root; torch.optim.RMSprop adds it outside), in ``torch._foreach_`` ops.

Before timing, a lockstep check: both sides from the initial weights with dropout off (the
masks cannot match across libraries), in float64, ``--lockstep-steps`` steps on the same
batches, per-step losses within ``--lockstep-rtol``; a failure exits with status 1. Float64,
because in float32 the rounding differences of two correct implementations grow to 2%
of the loss within 5 steps here (batch statistics and RMSprop's first, large steps amplify
them), which would hide a real difference as well as it shows one. The timed epochs run with
dropout on, alternating netcore / PyTorch, ``--repeats`` times each, the first one first;
the fastest epoch of each side counts (this machine is shared and noisy).

Afterwards one more netcore epoch runs instrumented, not timed against PyTorch: each layer's
``forward`` and ``backward`` and every ``backend.matmul`` call are timed, which gives the GEMM
share of a step and where the rest goes (per layer; the remainder is the loss, the optimizer
and the trainer's own work).

    PYTHONPATH=. python benchmarks/compare_cnn.py --json benchmarks/results/compare_cnn_cpu.json
    PYTHONPATH=. python benchmarks/compare_cnn.py --device cuda --json out/compare_cnn_gpu.json

On the GPU (``--device cuda``: netcore's CUDA backend, eager step, against PyTorch CUDA eager
with cuDNN) there is no per-layer profile: host clocks around queued launches time nothing.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import multiprocessing
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and ``netcore`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as common  # noqa: E402
from benchmarks import compare  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = 1234
NUM_CLASSES = 24
RMSPROP = {"learning_rate": 1e-3, "rho": 0.9, "epsilon": 1e-7}  # Keras 3 defaults
TARGET = 1.3  # netcore / PyTorch, both batch sizes (issue #17)


def make_data(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x`` (n, 28, 28, 1) float32 in [0, 1), integer labels, and their one-hot rows."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, NUM_CLASSES, size=n)
    return x, labels, np.eye(NUM_CLASSES, dtype=np.float32)[labels]


def netcore_cnn(dropout: bool = True, device: str = "cpu", dtype: str = "float32") -> Any:
    """The course CNN, compiled as timed (eager step; ``dropout=False``, float64: for the
    lockstep)."""
    from netcore import optimizers
    from netcore.course import build_cnn
    from netcore.layers import Dropout

    model = build_cnn(NUM_CLASSES, seed=SEED, backend=device, dtype=dtype)
    model.build()
    if not dropout:
        for layer in model.layers:
            if isinstance(layer, Dropout):
                layer.rate = 0.0
    model.compile(
        optimizer=optimizers.RMSprop(**RMSPROP), loss="categorical_crossentropy", jit_compile=False
    )
    return model


# ---------------------------------------------------------------------------- PyTorch side
def torch_cnn(torch: Any, weights: Sequence[np.ndarray], dropout: bool) -> Any:
    """The course CNN in PyTorch (NCHW inside), holding netcore's ``get_weights()``."""
    nn, F = torch.nn, torch.nn.functional
    module: Any = nn.Module

    class CourseCNN(module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = nn.ModuleList(
                nn.Conv2d(a, b, 3, padding=1) for a, b in ((1, 75), (75, 50), (50, 25))
            )
            self.bns = nn.ModuleList(
                nn.BatchNorm2d(c, eps=1e-3, momentum=0.01) for c in (75, 50, 25)
            )
            self.fc1, self.fc2 = nn.Linear(400, 512), nn.Linear(512, NUM_CLASSES)
            self.p1, self.p2 = (0.2, 0.3) if dropout else (0.0, 0.0)

        def forward(self, x: Any) -> Any:
            x = x.permute(0, 3, 1, 2)  # the same NHWC images as netcore's
            x = F.max_pool2d(self.bns[0](F.relu(self.convs[0](x))), 2)
            x = F.dropout(F.relu(self.convs[1](x)), self.p1, self.training)
            x = F.max_pool2d(self.bns[1](x), 2)
            x = self.bns[2](F.relu(self.convs[2](x)))
            x = F.max_pool2d(F.pad(x, (0, 1, 0, 1), value=float("-inf")), 2)  # 7 -> 4, "same"
            x = x.permute(0, 2, 3, 1).flatten(1)  # channels-last order, as netcore's Flatten
            x = F.dropout(F.relu(self.fc1(x)), self.p2, self.training)
            return self.fc2(x)  # logits: softmax inside cross_entropy

    model = CourseCNN()
    w = [torch.from_numpy(np.ascontiguousarray(a)) for a in weights]
    with torch.no_grad():
        # netcore order: conv(kernel, bias), bn(gamma, beta, mean, var), conv, bn, conv, bn,
        # dense(kernel, bias), dense(kernel, bias)
        blocks = [w[0:2], w[2:6], w[6:8], w[8:12], w[12:14], w[14:18]]
        for i in range(3):
            kernel, bias = blocks[2 * i]
            model.convs[i].weight.copy_(kernel.permute(3, 2, 0, 1))
            model.convs[i].bias.copy_(bias)
            bn = model.bns[i]
            for dst, src in zip(
                (bn.weight, bn.bias, bn.running_mean, bn.running_var), blocks[2 * i + 1]
            ):
                dst.copy_(src)
        for lin, kernel, bias in ((model.fc1, w[18], w[19]), (model.fc2, w[20], w[21])):
            lin.weight.copy_(kernel.T)
            lin.bias.copy_(bias)
    return model


class TorchCNN:
    """PyTorch's training loop for the course CNN with Keras' RMSprop (see the module doc)."""

    def __init__(
        self,
        torch: Any,
        weights: Sequence[np.ndarray],
        dropout: bool,
        device: str = "cpu",
        dtype: Any = None,
    ) -> None:
        self.torch = torch
        self.model = torch_cnn(torch, weights, dropout).to(device, dtype or torch.float32)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.velocity = [torch.zeros_like(p) for p in self.params]

    def step(self, xb: Any, yb: Any) -> Any:
        torch, rho = self.torch, RMSPROP["rho"]
        for p in self.params:
            p.grad = None
        loss = torch.nn.functional.cross_entropy(self.model(xb), yb)
        loss.backward()
        grads = [p.grad for p in self.params]
        with torch.no_grad():
            torch._foreach_mul_(self.velocity, rho)
            torch._foreach_addcmul_(self.velocity, grads, grads, value=1.0 - rho)
            denom = torch._foreach_add(self.velocity, RMSPROP["epsilon"])
            torch._foreach_sqrt_(denom)
            torch._foreach_addcdiv_(self.params, grads, denom, value=-RMSPROP["learning_rate"])
        return loss.detach()

    def epoch(self, x: Any, y: Any, batch_size: int) -> list[float]:
        """One epoch in order; the per-step losses (read back once, at the end)."""
        self.model.train()
        losses = [self.step(x[s : s + batch_size], y[s : s + batch_size])
                  for s in range(0, x.shape[0], batch_size)]  # fmt: skip
        return [float(v) for v in self.torch.stack(losses).tolist()]


def _worker_main(conn: Any, threads: int, device: str) -> None:
    """``info``, ``setup(weights, n, batch)``, ``lockstep(steps)``, ``epoch``, ``stop``."""
    import traceback

    import torch

    torch.set_num_threads(threads)
    compare.strict_float32(torch)
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
                    "mkldnn": bool(torch.backends.mkldnn.is_available()),
                }
            elif cmd == "setup":
                weights, n, batch_size = args
                x, labels, _ = make_data(n)
                tx, ty = torch.from_numpy(x).to(device), torch.from_numpy(labels).to(device)
                state.update(weights=weights, b=batch_size, x=tx, y=ty)
                state["trainer"] = TorchCNN(torch, weights, True, device)
                k = min(n, 2 * batch_size)
                TorchCNN(torch, weights, True, device).epoch(tx[:k], ty[:k], batch_size)
            elif cmd == "lockstep":
                (steps,) = args
                k = steps * state["b"]
                tt = TorchCNN(torch, state["weights"], False, device, torch.float64)
                value = tt.epoch(state["x"][:k].double(), state["y"][:k], state["b"])
            elif cmd == "epoch":
                t0 = time.perf_counter()
                losses = state["trainer"].epoch(state["x"], state["y"], state["b"])
                if device == "cuda":
                    torch.cuda.synchronize()
                value = (time.perf_counter() - t0, float(np.mean(losses)))
            else:
                raise ValueError(f"unknown command {cmd!r}")
            conn.send((True, value))
        except Exception:
            conn.send((False, traceback.format_exc()))


class Worker:
    def __init__(self, threads: int, device: str = "cpu") -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_worker_main, args=(child, threads, device), daemon=True)
        self._proc.start()
        child.close()

    def call(self, cmd: str, *args: Any) -> Any:
        self._conn.send((cmd, args))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"PyTorch worker failed on {cmd!r}:\n{value}")
        return value

    def close(self) -> None:
        self._conn.send(("stop", ()))
        self._proc.join(timeout=30)


# ---------------------------------------------------------------------------- netcore profile
def _timed(fn: Callable[..., Any], into: dict[str, float], key: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[key] += time.perf_counter() - t0

    return wrapper


def profile_epoch(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, Any]:
    """One instrumented epoch: seconds per step in each layer's forward and backward, in the
    matrix products (``backend.matmul``, inside those layers), and in the rest."""
    spent: dict[str, float] = defaultdict(float)
    be = model.backend
    be.matmul = _timed(be.matmul, spent, "gemm")  # instance attributes shadow the methods
    for layer in model.layers:
        layer.forward = _timed(layer.forward, spent, f"{layer.name}.forward")
        layer.backward = _timed(layer.backward, spent, f"{layer.name}.backward")
    try:
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        total = time.perf_counter() - t0
    finally:
        del be.matmul
        for layer in model.layers:
            del layer.forward, layer.backward
    steps = -(-len(x) // batch_size)
    in_layers = sum(v for k, v in spent.items() if k != "gemm")
    per_layer = {
        layer.name: {
            "forward_ms": 1e3 * spent[f"{layer.name}.forward"] / steps,
            "backward_ms": 1e3 * spent[f"{layer.name}.backward"] / steps,
        }
        for layer in model.layers
    }
    return {
        "step_ms": 1e3 * total / steps,
        "gemm_ms": 1e3 * spent["gemm"] / steps,
        "gemm_share": spent["gemm"] / total,
        "outside_layers_ms": 1e3 * (total - in_layers) / steps,
        "per_layer": per_layer,
    }


# ---------------------------------------------------------------------------- one batch size
def run_batch(
    worker: Worker | None,
    batch_size: int,
    n: int,
    repeats: int,
    steps: int,
    rtol: float,
    device: str = "cpu",
) -> dict[str, Any]:
    """Lockstep, then ``repeats`` alternating timed epochs of each side, then (CPU) the
    instrumented netcore epoch."""
    x_host, _, y_host = make_data(n)
    x, y = common.to_backend(device, x_host, y_host)
    model = netcore_cnn(device=device)
    weights = model.get_weights()
    k = min(n, 2 * batch_size)
    netcore_cnn(device=device).fit(
        x[:k], y[:k], batch_size=batch_size, epochs=1, shuffle=False, verbose=0
    )
    res: dict[str, Any] = {
        "device": device, "batch_size": batch_size, "samples": n, "repeats": repeats
    }  # fmt: skip
    if worker is not None:
        worker.call("setup", weights, n, batch_size)
        steps = max(1, min(steps, n // batch_size))  # full batches of the epoch's data only
        lock = netcore_cnn(dropout=False, device=device, dtype="float64")
        lock.set_weights([w.astype(np.float64) for w in weights])  # PyTorch's copy, exactly
        x64, y64 = common.to_backend(device, x_host.astype(np.float64), y_host.astype(np.float64))
        nc = [
            float(lock.train_on_batch(x64[s : s + batch_size], y64[s : s + batch_size])["loss"])
            for s in range(0, steps * batch_size, batch_size)
        ]
        tl = worker.call("lockstep", steps)
        rel = max(abs(a - b) / max(abs(b), 1e-12) for a, b in zip(nc, tl))
        res["lockstep"] = {
            "steps": steps, "netcore": nc, "torch": tl, "max_rel_loss_diff": rel,
            "rtol": rtol, "match": rel <= rtol,
        }  # fmt: skip
        print(f"  [b={batch_size}] lockstep {steps} steps: max rel loss diff {rel:.1e}", flush=True)
    times: dict[str, list[float]] = {"netcore": [], "torch": []}
    losses: dict[str, list[float]] = {"netcore": [], "torch": []}
    for r in range(repeats):
        order = ["netcore", "torch"] if r % 2 == 0 else ["torch", "netcore"]
        for who in order:
            if who == "netcore":
                t0 = time.perf_counter()
                hist = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
                common.synchronize(device)
                times["netcore"].append(time.perf_counter() - t0)
                losses["netcore"].append(float(hist.history["loss"][-1]))
            elif worker is not None:
                seconds, loss = worker.call("epoch")
                times["torch"].append(seconds)
                losses["torch"].append(loss)
        print(
            f"  [b={batch_size}] epoch {r + 1}/{repeats}: netcore {times['netcore'][-1]:.2f}s"
            + (f", torch {times['torch'][-1]:.2f}s" if times["torch"] else ""),
            flush=True,
        )
    steps_per_epoch = -(-n // batch_size)
    best = {k: (min(v) if v else None) for k, v in times.items()}
    res.update(
        times_s=times,
        losses=losses,
        min_s=best,
        step_ms={k: (1e3 * v / steps_per_epoch if v else None) for k, v in best.items()},
        ratio_netcore_over_torch=(
            best["netcore"] / best["torch"] if best["netcore"] and best["torch"] else None
        ),
    )
    # Per-call clocks on the host time a GPU's queued launches, not its work: CPU only.
    if device == "cpu":
        res["netcore_profile"] = profile_epoch(netcore_cnn(), x, y, batch_size)
    return res


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "clean": git("status", "--porcelain") == ""}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--batch-sizes", default="32,128")
    p.add_argument("--samples", type=int, default=1024, help="images per epoch (default 1024)")
    p.add_argument("--repeats", type=int, default=3, help="epochs per side (default 3)")
    p.add_argument("--lockstep-steps", type=int, default=5)
    p.add_argument("--lockstep-rtol", type=float, default=1e-6)
    p.add_argument("--torch-threads", type=int, default=2)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    state = git_state()  # the code that runs: read now, before any later commit
    have_torch, note = (False, "--no-torch given") if args.no_torch else compare.torch_status()
    worker = Worker(args.torch_threads, args.device) if have_torch else None
    try:
        info = compare.machine_info([args.device], None)
        if worker is not None:
            info.update(worker.call("info"))
        print(f"machine: {info['cpu']}, {info['cores']} cores; torch {info.get('torch', note)}")
        results = [
            run_batch(
                worker,
                int(b),
                args.samples,
                args.repeats,
                args.lockstep_steps,
                args.lockstep_rtol,
                args.device,
            )
            for b in args.batch_sizes.split(",")
        ]
    finally:
        if worker is not None:
            worker.close()
    failed = [r for r in results if not r.get("lockstep", {"match": True})["match"]]
    for r in results:
        prof = r.get("netcore_profile")
        ratio = r["ratio_netcore_over_torch"]
        print(
            f"{args.device} b={r['batch_size']}: netcore {r['step_ms']['netcore']:.1f} ms/step"
            + (f", torch {r['step_ms']['torch']:.1f} ms/step, ratio {ratio:.2f}" if ratio else "")
            + (f"; GEMM share of a netcore step {100 * prof['gemm_share']:.0f}%" if prof else "")
        )
    if args.json:
        out = {
            **state,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": info,
            "torch": note,
            "settings": {
                "device": args.device,
                "model": "netcore.course.build_cnn(24), categorical cross-entropy, no metrics",
                "rmsprop": RMSPROP,
                "shuffle": False,
                "samples": args.samples,
                "repeats": args.repeats,
                "timing": "fastest epoch of each side, alternating",
                "target": f"netcore/torch <= {TARGET}",
            },
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
