"""Whole-model benchmarks of the course MLP: training step, predict, epoch, memory, GEMM floor.

Every class is parameterised by backend (``cpu``, ``cuda``) and batch size (32, 128, 1024,
8192). Combinations that cannot run on this machine (no GPU) are skipped by asv, visibly,
from ``setup``. GPU timings synchronise inside the timed function; JIT compilation, BLAS
thread start-up and CuPy's memory pool are warmed in ``setup``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _common as common


def _hot_step(model: Any, x: Any, y: Any) -> Callable[[], Any]:
    """The training step exactly as ``fit`` runs it per batch (no input checks, no host copy).

    Uses ``Sequential._train_step``, the private hot path; ``tests/test_benchmarks.py`` runs
    it, so a rename shows up there rather than as a silently broken benchmark.
    """
    step = model._train_step

    def run() -> Any:
        loss, _ = step(x, y)
        return loss

    return run


class _ModelBench:
    """Shared set-up: a compiled model, device-resident data, everything warmed.

    The state is built once per process (``_common.cached_state``): asv re-runs ``setup``
    before every timed call, and rebuilding a model and 188 MB of data each time would
    dominate the run.
    """

    params = (common.BACKENDS, common.BATCH_SIZES)
    param_names = ["backend", "batch_size"]
    #: samples of data set up per benchmark (one batch for step/predict benchmarks)
    samples: int | None = None

    def setup(self, backend: str, batch_size: int) -> None:
        common.skip_unless_available(backend)
        self.backend = backend
        self.batch_size = batch_size
        n = self.samples if self.samples is not None else batch_size
        key = (type(self).__name__, backend, batch_size, n)
        self.model, self.x, self.y, self.step = common.cached_state(
            key, lambda: self._build(backend, batch_size, n)
        )

    @staticmethod
    def _build(backend: str, batch_size: int, n: int) -> tuple[Any, Any, Any, Callable[[], Any]]:
        x, y = common.to_backend(backend, *common.make_data(n))
        model = common.build_model(backend)
        step = _hot_step(model, x[:batch_size], y[:batch_size])
        # warm-up: compiles the fused kernels, sizes every buffer, fills the memory pool
        for _ in range(2):
            model.train_on_batch(x[:batch_size], y[:batch_size])
            step()
        model.predict(x[:batch_size], batch_size=batch_size)
        if n % batch_size:  # the short last batch of an epoch has its own buffer shapes
            model.train_on_batch(x[: n % batch_size], y[: n % batch_size])
        common.synchronize(backend)
        return model, x, y, step


class TrainStep(_ModelBench):
    """One training step: forward, fused loss, backward, Adam update.

    ``time_train_step`` is the step as ``fit`` runs it for every batch; ``time_train_on_batch``
    is the public one-batch API, which also validates its inputs and reads the loss back.
    """

    def time_train_step(self, backend: str, batch_size: int) -> None:
        self.step()
        common.synchronize(backend)

    def time_train_on_batch(self, backend: str, batch_size: int) -> None:
        self.model.train_on_batch(self.x, self.y)
        common.synchronize(backend)

    def track_train_step_samples_per_second(self, backend: str, batch_size: int) -> float:
        """Samples per second of training steps (median step time over at least 0.2 s)."""
        t = common.median_seconds(self.step, backend, repeats=5, min_time=0.2)
        return batch_size / t

    track_train_step_samples_per_second.unit = "samples/s"  # type: ignore[attr-defined]


class Predict(_ModelBench):
    """One forward pass in inference mode (``predict``: probabilities back on the host)."""

    def time_predict(self, backend: str, batch_size: int) -> None:
        self.model.predict(self.x, batch_size=batch_size)
        common.synchronize(backend)

    def track_predict_samples_per_second(self, backend: str, batch_size: int) -> float:
        """Samples per second of ``predict`` (median over at least 0.2 s)."""
        t = common.median_seconds(
            lambda: self.model.predict(self.x, batch_size=batch_size),
            backend,
            repeats=5,
            min_time=0.2,
        )
        return batch_size / t

    track_predict_samples_per_second.unit = "samples/s"  # type: ignore[attr-defined]


class Epoch(_ModelBench):
    """One epoch of ``fit`` over 60,000 samples (default shuffling), and its peak memory.

    Each epoch takes seconds (batch 32 on two CPU cores: about 4 s), so every timing is one
    call and a handful of samples.
    """

    samples = common.EPOCH_SAMPLES
    number = 1
    repeat = (1, 3, 20.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 600.0

    def time_epoch(self, backend: str, batch_size: int) -> None:
        self.model.fit(self.x, self.y, batch_size=batch_size, epochs=1, verbose=0)
        common.synchronize(backend)

    def peakmem_epoch(self, backend: str, batch_size: int) -> None:
        """Peak resident host memory of the process (data, model, one epoch); asv measures it."""
        self.model.fit(self.x, self.y, batch_size=batch_size, epochs=1, verbose=0)
        common.synchronize(backend)


class EpochDeviceMemory(_ModelBench):
    """Device memory held by CuPy's pool after one epoch (GPU only; ``cpu`` is skipped).

    asv's ``peakmem_`` sees host memory only; this is the device-side counterpart.
    """

    samples = common.EPOCH_SAMPLES
    timeout = 600.0

    def setup(self, backend: str, batch_size: int) -> None:
        if backend != "cuda":
            raise NotImplementedError("device memory pool: measured on the cuda backend only")
        super().setup(backend, batch_size)

    def track_epoch_device_pool_bytes(self, backend: str, batch_size: int) -> float:
        """Bytes of CuPy's default pool in use after an epoch (data, weights, buffers)."""
        import cupy

        self.model.fit(self.x, self.y, batch_size=batch_size, epochs=1, verbose=0)
        common.synchronize(backend)
        return float(cupy.get_default_memory_pool().total_bytes())

    track_epoch_device_pool_bytes.unit = "bytes"  # type: ignore[attr-defined]


class GemmFloor:
    """The eight matrix products of one training step alone (see ``_common.StepGemms``).

    Read ``TrainStep.time_train_step / GemmFloor.time_gemm_step`` as netcore's overhead over
    BLAS; ``track_train_step_over_gemm_floor`` records that ratio directly, both sides timed
    side by side in one process.
    """

    params = (common.BACKENDS, common.BATCH_SIZES)
    param_names = ["backend", "batch_size"]

    def setup(self, backend: str, batch_size: int) -> None:
        common.skip_unless_available(backend)
        self.floor, self.x, self.step = common.cached_state(
            ("GemmFloor", backend, batch_size), lambda: self._build(backend, batch_size)
        )

    @staticmethod
    def _build(backend: str, batch_size: int) -> tuple[common.StepGemms, Any, Callable[[], Any]]:
        x, y = common.to_backend(backend, *common.make_data(batch_size))
        floor = common.StepGemms(backend, batch_size)
        model = common.build_model(backend)
        step = _hot_step(model, x, y)
        for _ in range(2):
            floor.step(x)
            step()
        common.synchronize(backend)
        return floor, x, step

    def time_gemm_step(self, backend: str, batch_size: int) -> None:
        self.floor.step(self.x)
        common.synchronize(backend)

    def track_gemm_gflops(self, backend: str, batch_size: int) -> float:
        """Achieved GFLOP/s of the eight GEMMs (median over at least 0.2 s)."""
        t = common.median_seconds(lambda: self.floor.step(self.x), backend, repeats=5, min_time=0.2)
        return common.StepGemms.flops_per_sample() * batch_size / t / 1e9

    track_gemm_gflops.unit = "GFLOP/s"  # type: ignore[attr-defined]

    def track_train_step_over_gemm_floor(self, backend: str, batch_size: int) -> float:
        """Training-step time over GEMM-floor time, medians of interleaved timings."""
        step_times, gemm_times = [], []
        for _ in range(5):
            step_times.append(common.median_seconds(self.step, backend, repeats=3, min_time=0.05))
            gemm_times.append(
                common.median_seconds(
                    lambda: self.floor.step(self.x), backend, repeats=3, min_time=0.05
                )
            )
        step_times.sort()
        gemm_times.sort()
        return step_times[len(step_times) // 2] / gemm_times[len(gemm_times) // 2]

    track_train_step_over_gemm_floor.unit = "ratio"  # type: ignore[attr-defined]


class CNNTrainStep:
    """One training step of the course CNN (``netcore.course.build_cnn``, 24 classes):
    Conv2D / BatchNormalization / MaxPool2D x3, Dense 512, dropout on, categorical
    cross-entropy, RMSprop, on 28x28x1 images; batch 32 and 128 (the sizes compare_cnn.py
    measures against PyTorch)."""

    params = (common.BACKENDS, (32, 128))
    param_names = ["backend", "batch_size"]

    def setup(self, backend: str, batch_size: int) -> None:
        common.skip_unless_available(backend)
        self.model, self.step = common.cached_state(
            ("CNNTrainStep", backend, batch_size), lambda: self._build(backend, batch_size)
        )

    @staticmethod
    def _build(backend: str, batch_size: int) -> tuple[Any, Callable[[], Any]]:
        import numpy as np

        from netcore.course import build_cnn

        rng = np.random.default_rng(common.SEED)
        x = rng.random((batch_size, 28, 28, 1), dtype=np.float32)
        y = np.eye(24, dtype=np.float32)[rng.integers(0, 24, size=batch_size)]
        x, y = common.to_backend(backend, x, y)
        model = build_cnn(24, seed=common.SEED, backend=backend)
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
        step = _hot_step(model, x, y)
        for _ in range(2):  # compiles the fused kernels, sizes every buffer
            model.train_on_batch(x, y)
            step()
        common.synchronize(backend)
        return model, step

    def time_cnn_train_step(self, backend: str, batch_size: int) -> None:
        self.step()
        common.synchronize(backend)
