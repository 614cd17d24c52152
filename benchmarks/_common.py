"""Shared set-up for the asv suite and ``compare.py``: data, model, devices, timing, GEMM floor.

Everything here is plain functions with no asv-recognised prefix (``time_``, ``track_``,
``peakmem_``...), so asv's discovery imports this module without taking it for a benchmark.

The workload is the course MLP on MNIST-shaped data: ``N x 784`` float32 inputs, 10 classes,
``Dense(512, relu) -> Dense(512, relu) -> Dense(10, softmax)``, sparse categorical
cross-entropy, Adam. The data is synthetic (no download), MNIST-like and learnable (see
:func:`make_data`), so the loss falls over an epoch and two trainers doing the same work
visibly agree (or not).
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import os
import platform
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

#: Backends the suite is parameterised over (asv shows ``cuda`` as skipped without a GPU).
BACKENDS: list[str] = ["cpu", "cuda"]
#: Batch sizes the suite is parameterised over.
BATCH_SIZES: list[int] = [32, 128, 1024, 8192]
#: Samples in one epoch (MNIST's training set).
EPOCH_SAMPLES = 60_000
N_FEATURES = 784
N_HIDDEN = 512
N_CLASSES = 10
#: Layer widths of the MLP, input first.
LAYER_SIZES: tuple[int, ...] = (N_FEATURES, N_HIDDEN, N_HIDDEN, N_CLASSES)
#: Adam hyperparameters shared by netcore and PyTorch (Keras 3 defaults).
LEARNING_RATE = 1e-3
BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-7
SEED = 1234


class Unavailable(Exception):
    """A backend cannot run here; the message says why."""


_STATE: dict[tuple, Any] = {}


def cached_state(key: tuple, make: Callable[[], T]) -> T:
    """The benchmark state for ``key``, built by ``make()`` once per process.

    asv (asv_runner 0.3) re-runs a benchmark's ``setup`` before *every* timed call, so the
    samples see fresh state. Our state (data, a compiled model, warmed kernels and memory
    pools) is expensive to build and not changed in a way that matters to timing, so ``setup``
    fetches it from here: cheap after the first call. Only the newest key is kept, so a
    process that walks through parameters never holds more than one set of arrays.
    """
    hit = _STATE.get(key)
    if hit is None:
        _STATE.clear()
        hit = _STATE[key] = make()
    return hit


# ---------------------------------------------------------------------------- devices
def check_backend(name: str) -> None:
    """Raise :class:`Unavailable` with the reason when backend ``name`` cannot be timed here.

    The CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) counts as unavailable: it is a test
    harness running on the CPU, and its timings would mean nothing.
    """
    if name == "cpu":
        return
    if name != "cuda":
        raise ValueError(f"backend must be 'cpu' or 'cuda', received {name!r}")
    from netcore.backend.cuda import probe, simulator_enabled

    if simulator_enabled():
        raise Unavailable("NUMBA_ENABLE_CUDASIM=1: the CUDA simulator is not timed")
    ok, reason = probe()
    if not ok:
        raise Unavailable(reason)


def skip_unless_available(name: str) -> None:
    """In an asv ``setup``: skip the parameter combination (asv shows it as skipped)."""
    try:
        check_backend(name)
    except Unavailable as exc:
        # asv's convention: NotImplementedError raised in setup marks the combination skipped.
        raise NotImplementedError(f"backend {name!r} unavailable: {exc}") from None


def build_backend(name: str) -> Any:
    """A fresh netcore backend object (to call its ops directly)."""
    from netcore import get_backend

    return get_backend(name, seed=SEED)


def array_module(name: str) -> Any:
    """NumPy for ``cpu``, CuPy for ``cuda``."""
    if name == "cuda":
        import cupy

        return cupy
    return np


@functools.cache
def _backend_for_sync(name: str) -> Any:
    return build_backend(name)


def synchronize(name: str) -> None:
    """Wait for all queued work of backend ``name``: the backend's own ``synchronize``.

    One backend object per name serves every call (made on first use), so a timed loop pays
    for the wait and nothing else.
    """
    _backend_for_sync(name).synchronize()


# ---------------------------------------------------------------------------- data and model
#: Fraction of labels replaced by random ones in :func:`make_data` (keeps the loss off zero).
LABEL_NOISE = 0.1


def make_data(n: int = EPOCH_SAMPLES, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)``: ``x`` of shape ``(n, 784)`` float32 in [0, 1], ``y`` int64 labels in [0, 10).

    MNIST-like: each class has a sparse prototype "image" (a quarter of the pixels lit); a
    sample is its class prototype plus sparse uniform noise (30% of the pixels), clipped to
    [0, 1]; then 10% of the labels are replaced by random ones. One epoch of the MLP learns it
    to a mean loss around 0.55 (the label noise sets the floor), and the training is
    well-conditioned: the first-epoch loss of a float32 and a float64 run agree to ~5e-5, so
    two implementations of the same work agree far inside ``compare.py``'s 1e-3 tolerance.
    A loss check means something only on such data (docs/benchmarks.md explains the choice).
    """
    rng = np.random.default_rng(seed)
    lit = rng.random((N_CLASSES, N_FEATURES), dtype=np.float32) < 0.25
    protos = rng.random((N_CLASSES, N_FEATURES), dtype=np.float32) * lit
    y = rng.integers(0, N_CLASSES, n)
    x = rng.random((n, N_FEATURES), dtype=np.float32)
    x *= rng.random((n, N_FEATURES), dtype=np.float32) < 0.3
    x += protos[y]
    np.clip(x, 0.0, 1.0, out=x)
    flip = rng.random(n) < LABEL_NOISE
    y = np.where(flip, rng.integers(0, N_CLASSES, n), y).astype(np.int64)
    return x, y


def build_model(backend: str, seed: int = SEED) -> Any:
    """The compiled MLP 784-512-512-10 (ReLU, softmax, sparse CE, Adam) on ``backend``."""
    from netcore import Sequential
    from netcore.layers import Dense
    from netcore.optimizers import Adam

    model = Sequential(
        [
            Dense(N_HIDDEN, activation="relu", input_shape=(N_FEATURES,)),
            Dense(N_HIDDEN, activation="relu"),
            Dense(N_CLASSES, activation="softmax"),
        ],
        backend=backend,
        seed=seed,
    )
    model.compile(
        optimizer=Adam(learning_rate=LEARNING_RATE, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPSILON),
        loss="sparse_categorical_crossentropy",
    )
    return model


def to_backend(backend: str, *arrays: np.ndarray) -> tuple[Any, ...]:
    """The arrays moved to ``backend``'s device once (NumPy arrays stay as they are)."""
    xp = array_module(backend)
    return tuple(xp.asarray(a) for a in arrays)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Training steps in one epoch (the last short batch counts)."""
    return math.ceil(n / batch_size)


# ---------------------------------------------------------------------------- timing
def median_seconds(
    fn: Callable[[], Any],
    backend: str,
    repeats: int = 5,
    min_time: float = 0.0,
    max_repeats: int = 1000,
) -> float:
    """Median wall time of ``fn()`` in seconds, synchronising ``backend`` inside each timing.

    Runs at least ``repeats`` times and keeps going (up to ``max_repeats``) until ``min_time``
    seconds were spent, so tiny ops get enough samples for a stable median.
    """
    samples: list[float] = []
    spent = 0.0
    while len(samples) < repeats or (spent < min_time and len(samples) < max_repeats):
        t0 = time.perf_counter()
        fn()
        synchronize(backend)
        dt = time.perf_counter() - t0
        samples.append(dt)
        spent += dt
    return statistics.median(samples)


# ---------------------------------------------------------------------------- GEMM floor
class StepGemms:
    """The GEMM floor: the matrix products of one training step of the MLP, and nothing else.

    Forward ``x W1``, ``h1 W2``, ``h2 W3``; backward ``dW = a^T dz`` for all three layers and
    ``dX = dz W^T`` for the last two (the first layer's input gradient is skipped, as netcore
    and PyTorch both skip it). Outputs are preallocated; the inputs of the backward products
    are the forward outputs (their values do not matter to a GEMM's speed).
    """

    def __init__(self, backend: str, max_batch: int, seed: int = SEED) -> None:
        xp = array_module(backend)
        self.backend, self.xp = backend, xp
        rng = np.random.default_rng(seed)
        self.weights = [
            xp.asarray(rng.standard_normal((a, b)).astype(np.float32) * 0.05)
            for a, b in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:])
        ]
        self.grads = [xp.empty_like(w) for w in self.weights]
        self._max_batch = max_batch
        self._acts = [xp.empty((max_batch, b), dtype=np.float32) for b in LAYER_SIZES[1:]]
        self._dx = [xp.empty((max_batch, a), dtype=np.float32) for a in LAYER_SIZES[1:-1]]

    def step(self, x: Any) -> None:
        """The 8 GEMMs of one training step on the batch ``x`` (``n <= max_batch`` rows)."""
        xp, n = self.xp, x.shape[0]
        w, g = self.weights, self.grads
        a = [x] + [buf[:n] for buf in self._acts]
        for i in range(3):  # forward
            xp.matmul(a[i], w[i], out=a[i + 1])
        dz = a[3]
        for i in (2, 1, 0):  # backward: the next layer's dz is this layer's dX (shapes match)
            xp.matmul(a[i].T, dz, out=g[i])
            if i > 0:
                dx = self._dx[i - 1][:n]
                xp.matmul(dz, w[i].T, out=dx)
                dz = dx

    def epoch(self, x: Any, batch_size: int) -> None:
        """One epoch of GEMMs over ``x`` in order (the batches a ``shuffle=False`` fit sees)."""
        n = x.shape[0]
        for s in range(0, n, batch_size):
            self.step(x[s : s + batch_size])

    @staticmethod
    def flops_per_sample() -> int:
        """Floating-point operations of the 8 GEMMs per sample (2 per multiply-add)."""
        fwd = sum(a * b for a, b in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]))
        dx = sum(a * b for a, b in zip(LAYER_SIZES[1:-1], LAYER_SIZES[2:]))
        return 2 * (2 * fwd + dx)


# ---------------------------------------------------------------------------- provenance
#: The repository the benchmarks measure (their commit is its ``HEAD``).
REPO = Path(__file__).resolve().parent.parent
#: The first line of a result ``.md``: ``Provenance: commit <sha> (<clean|dirty|unknown>
#: tree), machine: <text>, date: <ISO date>``; ``tests/test_docs.py`` reads it back. A file
#: measured before results carried their provenance names the commit that added it, the tree
#: "unknown".
PROVENANCE_MD = re.compile(
    r"^Provenance: commit (?P<commit>[0-9a-f]{40}) \((?P<tree>clean|dirty|unknown) tree\), "
    r"machine: (?P<machine>.+), date: (?P<date>\S+)$"
)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def provenance(machine: str | None = None) -> dict[str, Any]:
    """What a result measured: the checkout's ``commit``, whether tracked files differed
    from it (``dirty``: None when unknown), the ``machine`` (default: CPU model and core
    count) and the UTC ``date``. Not a git checkout: commit "unknown", dirty True."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", True
    return {
        "commit": commit,
        "dirty": dirty,
        "machine": machine or f"{cpu_name()}, {os.cpu_count()} cores",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def provenance_line(prov: dict[str, Any]) -> str:
    """The header line of a result ``.md`` (see :data:`PROVENANCE_MD`)."""
    tree = "unknown" if prov["dirty"] is None else "dirty" if prov["dirty"] else "clean"
    return (
        f"Provenance: commit {prov['commit']} ({tree} tree), "
        f"machine: {prov['machine']}, date: {prov['date']}"
    )


def write_json_result(path: str | Path, data: Any, prov: dict[str, Any] | None = None) -> None:
    """Write ``data`` to ``path`` as JSON with its ``"provenance"`` (a dict gains the key; any
    other value is wrapped as ``{"provenance": ..., "results": data}``)."""
    prov = prov or provenance()
    body = (
        {"provenance": prov, **data}
        if isinstance(data, dict)
        else {
            "provenance": prov,
            "results": data,
        }
    )
    Path(path).write_text(json.dumps(body, indent=1, default=str) + "\n")


def write_md_result(path: str | Path, text: str, prov: dict[str, Any] | None = None) -> None:
    """Write the markdown ``text`` to ``path`` under its provenance line."""
    Path(path).write_text(provenance_line(prov or provenance()) + "\n\n" + text.rstrip() + "\n")


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance a result file records (JSON key or ``.md`` first line), or None."""
    path = Path(path)
    text = path.read_text()
    if path.suffix == ".json":
        data = json.loads(text)
        prov = data.get("provenance") if isinstance(data, dict) else None
        return prov if isinstance(prov, dict) else None
    match = PROVENANCE_MD.match(text.split("\n", 1)[0])
    if match is None:
        return None
    tree = match["tree"]
    return {
        "commit": match["commit"],
        "dirty": None if tree == "unknown" else tree == "dirty",
        "machine": match["machine"],
        "date": match["date"],
    }


#: The code each result file measured, by the start of its name: a table quoting the file is
#: out of date once any of these paths changed after the file's commit (``tests/test_docs.py``)
MEASURED_CODE: dict[str, tuple[str, ...]] = {
    "compare_cpu": ("netcore/kernels", "netcore/backend", "netcore/training", "netcore/models.py"),
    "compare_gpu": ("netcore/kernels", "netcore/backend", "netcore/training", "netcore/models.py"),
    "restructure_cpu": ("netcore/kernels", "netcore/backend", "netcore/training"),
    "device_check": ("netcore/kernels", "netcore/backend/cuda.py", "netcore/training/capture.py"),
    "kernel_notes": ("netcore/kernels",),
    "augment_": (
        "netcore/kernels/warp.py",
        "netcore/backend/warp_ops.py",
        "netcore/layers/augment.py",
    ),
    "distributed_cpu": ("netcore/distribution", "netcore/training", "netcore/kernels"),
    "capture_check_cpu": (
        "netcore/training/capture.py",
        "netcore/training/capture_check.py",
        "netcore/training/capture_kernels.py",
    ),
    "cnn_accuracy_cpu": (
        "netcore/layers",
        "netcore/kernels",
        "netcore/backend",
        "netcore/training",
    ),
    "compare_cnn_cpu": ("netcore/layers", "netcore/kernels", "netcore/backend", "netcore/training"),
    "message_loop_cpu": ("netcore/distribution", "netcore/saving", "netcore/training"),
    "reliability_cpu": ("netcore/distribution", "netcore/saving", "netcore/training"),
    "onnx_parity": ("netcore/export", "netcore/layers"),
    "ptx_registers": ("netcore/kernels",),
    "nonfinite_check_cpu": (
        "netcore/kernels/optimizers.py",
        "netcore/backend/cpu.py",
        "netcore/backend/fused.py",
    ),
}


def measured_code(name: str) -> tuple[str, ...]:
    """The code paths result file ``name`` measured (see :data:`MEASURED_CODE`)."""
    for prefix, paths in MEASURED_CODE.items():
        if name.startswith(prefix):
            return paths
    raise KeyError(f"benchmarks/_common.MEASURED_CODE names no code for result file {name!r}")
