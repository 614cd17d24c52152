"""Each fused backend op against the unfused sequence it replaces, and achieved bandwidth.

"Fused" is the op as the training loop calls it (``backend.bias_act(...)``: a numba kernel
where the backend overrides it). "Unfused" is the reference sequence of NumPy / CuPy calls in
:class:`netcore.backend.base.Backend`, run on the same backend object with the same arrays
(``Backend.bias_act(backend, ...)``), which is exactly what the fused kernel replaces. Where a
backend has no kernel for an op yet, the two are the same code and time the same.

Shapes follow the course MLP: activations ``(batch, 512)``, logits ``(batch, 10)``, and Adam
over all six weight tensors of the model (669,706 parameters). ``KernelBandwidth`` runs each
op on one large ``8192 x 4096`` float32 tensor and reports achieved bytes per second next to a
plain device copy of the same size (the bandwidth ceiling of an elementwise op).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from netcore.backend.base import Backend

from . import _common as common

#: The ops ``bench_ops`` covers (all fused by the kernels issue on both devices).
OPS: list[str] = ["bias_act", "bias_act_grad", "softmax_xent", "sigmoid_bce", "adam_update"]
#: Shape of the bandwidth benchmarks (the issue's "8192 x 4096 float32").
BIG_SHAPE = (8192, 4096)
_F32 = 4


class OpCase:
    """Inputs and outputs for one op at one shape, with fused and unfused callables.

    ``bytes_moved`` is the minimum memory traffic of the op (each input read once, each
    output written once); achieved bandwidth is ``bytes_moved / time``. ``outputs`` are the
    arrays the op writes (both callables write the same ones; the inputs never change, except
    Adam's, which updates in place).
    """

    def __init__(self, be: Any, op: str, shape: tuple[int, ...], seed: int = common.SEED) -> None:
        xp = be.xp
        rng = np.random.default_rng(seed)
        self.op, self.be, self.shape = op, be, shape

        def arr(*shape: int, scale: float = 1.0) -> Any:
            return xp.asarray((rng.standard_normal(shape) * scale).astype(np.float32))

        n = int(np.prod(shape))
        self.outputs: tuple[Any, ...]
        if op not in ("copy", "adam_update") and len(shape) != 2:  # those two take any shape
            raise ValueError(f"{op} needs a 2-D (rows, cols) shape, received {shape}")
        rows, cols = shape if len(shape) == 2 else (1, n)
        if op == "copy":
            src, dst = arr(*shape), xp.empty(shape, dtype=np.float32)
            self.fused = self.unfused = lambda: xp.copyto(dst, src)
            self.outputs = (dst,)
            self.bytes_moved = 2 * n * _F32
        elif op == "bias_act":
            z, b, y = arr(rows, cols), arr(cols, scale=0.1), xp.empty((rows, cols), np.float32)
            self.fused = lambda: be.bias_act(z, b, "relu", out=y)
            self.unfused = lambda: Backend.bias_act(be, z, b, "relu", out=y)
            self.outputs = (y,)
            self.bytes_moved = (2 * n + cols) * _F32
        elif op == "bias_act_grad":
            dy, y = arr(rows, cols), xp.maximum(arr(rows, cols), 0)
            dz, db = xp.empty((rows, cols), np.float32), xp.empty(cols, np.float32)
            self.fused = lambda: be.bias_act_grad(dy, y, "relu", dz_out=dz, db_out=db)
            self.unfused = lambda: Backend.bias_act_grad(be, dy, y, "relu", dz_out=dz, db_out=db)
            self.outputs = (dz, db)
            self.bytes_moved = (3 * n + cols) * _F32
        elif op == "softmax_xent":
            z = arr(rows, cols, scale=3.0)
            labels = xp.asarray(rng.integers(0, cols, rows).astype(np.int64))
            g = xp.empty((rows, cols), np.float32)
            self.fused = lambda: be.softmax_xent(z, labels, grad_out=g)
            self.unfused = lambda: Backend.softmax_xent(be, z, labels, grad_out=g)
            self.outputs = (g,)
            self.bytes_moved = 2 * n * _F32 + rows * 8
        elif op == "sigmoid_bce":
            z = arr(rows, cols, scale=3.0)
            t = xp.asarray((rng.random((rows, cols)) < 0.5).astype(np.float32))
            g = xp.empty((rows, cols), np.float32)
            self.fused = lambda: be.sigmoid_bce(z, t, grad_out=g)
            self.unfused = lambda: Backend.sigmoid_bce(be, z, t, grad_out=g)
            self.outputs = (g,)
            self.bytes_moved = 3 * n * _F32
        elif op == "adam_update":
            p, g = arr(*shape, scale=0.05), arr(*shape, scale=0.01)
            m, v = xp.zeros(shape, np.float32), xp.zeros(shape, np.float32)
            args = (1e-3, common.BETA_1, common.BETA_2, common.EPSILON)
            self.fused = lambda: be.adam_update(p, g, m, v, *args)
            self.unfused = lambda: Backend.adam_update(be, p, g, m, v, *args)
            self.outputs = (p, m, v)
            self.bytes_moved = 7 * n * _F32  # read p, g, m, v; write p, m, v
        else:
            raise ValueError(f"unknown op {op!r}")


def _warm(backend: str, *fns: Callable[[], Any]) -> None:
    for fn in fns:
        for _ in range(3):
            fn()
    common.synchronize(backend)


class FusedOps:
    """Fused vs unfused elementwise ops at the MLP's shapes, per backend and batch size."""

    params = (common.BACKENDS, common.BATCH_SIZES)
    param_names = ["backend", "batch_size"]
    repeat = (3, 10, 5.0)

    def setup(self, backend: str, batch_size: int) -> None:
        common.skip_unless_available(backend)
        self.cases = common.cached_state(
            ("FusedOps", backend, batch_size), lambda: self._build(backend, batch_size)
        )

    @staticmethod
    def _build(backend: str, batch_size: int) -> dict[str, OpCase]:
        be = common.build_backend(backend)
        cases = {
            "bias_act": OpCase(be, "bias_act", (batch_size, common.N_HIDDEN)),
            "bias_act_grad": OpCase(be, "bias_act_grad", (batch_size, common.N_HIDDEN)),
            "softmax_xent": OpCase(be, "softmax_xent", (batch_size, common.N_CLASSES)),
            "sigmoid_bce": OpCase(be, "sigmoid_bce", (batch_size, common.N_CLASSES)),
        }
        _warm(backend, *(c.fused for c in cases.values()), *(c.unfused for c in cases.values()))
        return cases

    def _run(self, backend: str, op: str, fused: bool) -> None:
        case = self.cases[op]
        (case.fused if fused else case.unfused)()
        common.synchronize(backend)

    def time_bias_act(self, backend: str, batch_size: int) -> None:
        self._run(backend, "bias_act", True)

    def time_bias_act_unfused(self, backend: str, batch_size: int) -> None:
        self._run(backend, "bias_act", False)

    def time_bias_act_grad(self, backend: str, batch_size: int) -> None:
        self._run(backend, "bias_act_grad", True)

    def time_bias_act_grad_unfused(self, backend: str, batch_size: int) -> None:
        self._run(backend, "bias_act_grad", False)

    def time_softmax_xent(self, backend: str, batch_size: int) -> None:
        self._run(backend, "softmax_xent", True)

    def time_softmax_xent_unfused(self, backend: str, batch_size: int) -> None:
        self._run(backend, "softmax_xent", False)

    def time_sigmoid_bce(self, backend: str, batch_size: int) -> None:
        self._run(backend, "sigmoid_bce", True)

    def time_sigmoid_bce_unfused(self, backend: str, batch_size: int) -> None:
        self._run(backend, "sigmoid_bce", False)


class AdamModelStep:
    """One Adam update of all the MLP's weights (669,706 parameters).

    ``time_adam_step``: one op per weight tensor (six launches); ``time_adam_step_flat``: one op
    over a single flat buffer holding every weight (the flat-parameter-buffer design: one
    launch per step). Each against the unfused NumPy / CuPy sequence.
    """

    params = (common.BACKENDS,)
    param_names = ["backend"]
    repeat = (3, 10, 5.0)

    def setup(self, backend: str) -> None:
        common.skip_unless_available(backend)
        self.cases, self.flat = common.cached_state(
            ("AdamModelStep", backend), lambda: self._build(backend)
        )
        self.params_total = sum(int(np.prod(c.shape)) for c in self.cases)

    @staticmethod
    def _build(backend: str) -> tuple[list[OpCase], OpCase]:
        be = common.build_backend(backend)
        shapes: list[tuple[int, ...]] = []
        for a, b in zip(common.LAYER_SIZES[:-1], common.LAYER_SIZES[1:]):
            shapes += [(a, b), (b,)]  # kernel, bias
        cases = [OpCase(be, "adam_update", s) for s in shapes]
        flat = OpCase(be, "adam_update", (sum(int(np.prod(s)) for s in shapes),))
        _warm(
            backend,
            *(c.fused for c in cases),
            *(c.unfused for c in cases),
            flat.fused,
            flat.unfused,
        )
        return cases, flat

    def time_adam_step(self, backend: str) -> None:
        for c in self.cases:
            c.fused()
        common.synchronize(backend)

    def time_adam_step_unfused(self, backend: str) -> None:
        for c in self.cases:
            c.unfused()
        common.synchronize(backend)

    def time_adam_step_flat(self, backend: str) -> None:
        self.flat.fused()
        common.synchronize(backend)

    def time_adam_step_flat_unfused(self, backend: str) -> None:
        self.flat.unfused()
        common.synchronize(backend)


class KernelBandwidth:
    """Achieved bytes per second of each op on one ``8192 x 4096`` float32 tensor.

    ``copy`` is a plain device-to-device (or memory-to-memory) copy of the same size: the
    ceiling an elementwise kernel can approach. ``track_fraction_of_copy`` times the op and
    the copy interleaved in one process and returns their bandwidth ratio.
    """

    params = (common.BACKENDS, ["copy", *OPS])
    param_names = ["backend", "op"]
    timeout = 300.0

    def setup(self, backend: str, op: str) -> None:
        common.skip_unless_available(backend)
        self.case, self.copy = common.cached_state(
            ("KernelBandwidth", backend, op, BIG_SHAPE), lambda: self._build(backend, op)
        )

    @staticmethod
    def _build(backend: str, op: str) -> tuple[OpCase, OpCase]:
        be = common.build_backend(backend)
        case, copy = OpCase(be, op, BIG_SHAPE), OpCase(be, "copy", BIG_SHAPE)
        _warm(backend, case.fused, case.unfused, copy.fused)
        return case, copy

    def _bandwidth(self, backend: str, fn: Callable[[], Any], nbytes: int) -> float:
        return nbytes / common.median_seconds(fn, backend, repeats=5, min_time=0.3, max_repeats=50)

    def track_bytes_per_second(self, backend: str, op: str) -> float:
        """Fused op: minimum bytes moved over median time."""
        return self._bandwidth(backend, self.case.fused, self.case.bytes_moved)

    track_bytes_per_second.unit = "bytes/s"  # type: ignore[attr-defined]

    def track_unfused_bytes_per_second(self, backend: str, op: str) -> float:
        """The unfused sequence, counted against the same minimum bytes (so lower)."""
        return self._bandwidth(backend, self.case.unfused, self.case.bytes_moved)

    track_unfused_bytes_per_second.unit = "bytes/s"  # type: ignore[attr-defined]

    def track_fraction_of_copy(self, backend: str, op: str) -> float:
        """Fused op's achieved bandwidth over the copy's, timed interleaved (goal on GPU >= 0.7)."""
        ratios = []
        for _ in range(3):
            op_bw = self._bandwidth(backend, self.case.fused, self.case.bytes_moved)
            copy_bw = self._bandwidth(backend, self.copy.fused, self.copy.bytes_moved)
            ratios.append(op_bw / copy_bw)
        return sorted(ratios)[1]

    track_fraction_of_copy.unit = "ratio"  # type: ignore[attr-defined]


class ConvLayerOps:
    """The convolutional layers' fused ops (im2col, col2im, max pool forward/backward, batch
    norm forward/backward) against their reference sequences, at the course CNN's three
    layers (``benchmarks._device_check_conv.COURSE_LAYERS``), batch 32 and 128, float32."""

    OP_NAMES = [
        "im2col 3x3 same",
        "col2im 3x3 same",
        "max pool 2x2 fwd",
        "max pool 2x2 bwd",
        "batch norm fwd (train)",
        "batch norm bwd",
    ]
    params = (common.BACKENDS, [32, 128], [0, 1, 2], OP_NAMES)
    param_names = ["backend", "batch_size", "layer", "op"]
    repeat = (3, 10, 5.0)

    def setup(self, backend: str, batch_size: int, layer: int, op: str) -> None:
        common.skip_unless_available(backend)
        cases = common.cached_state(
            ("ConvLayerOps", backend, batch_size), lambda: self._build(backend, batch_size)
        )
        self.fused, self.unfused = cases[(layer, op)]

    @staticmethod
    def _build(backend: str, batch_size: int) -> dict[tuple[int, str], tuple[Callable, Callable]]:
        from . import _device_check_conv as conv

        be = common.build_backend(backend)
        ops = conv.conv_ops(be.xp, be, batch_size, smoke=False)
        per_layer = len(ops) // len(conv.COURSE_LAYERS)
        cases = {(i // per_layer, name): (f, u) for i, (name, _, f, u, _) in enumerate(ops)}
        _warm(backend, *(f for f, _ in cases.values()), *(u for _, u in cases.values()))
        return cases

    def time_fused(self, backend: str, batch_size: int, layer: int, op: str) -> None:
        self.fused()
        common.synchronize(backend)

    def time_unfused(self, backend: str, batch_size: int, layer: int, op: str) -> None:
        self.unfused()
        common.synchronize(backend)


class Conv2DLayer:
    """A whole Conv2D layer (im2col, GEMM, fused bias + ReLU; backward: fused ReLU grad + db,
    two GEMMs, col2im) at the course CNN's layers, batch 32 and 128, float32."""

    params = (common.BACKENDS, [32, 128], [0, 1, 2])
    param_names = ["backend", "batch_size", "layer"]
    repeat = (3, 10, 5.0)

    def setup(self, backend: str, batch_size: int, layer: int) -> None:
        common.skip_unless_available(backend)
        self.layer, self.x, self.dy = common.cached_state(
            ("Conv2DLayer", backend, batch_size, layer),
            lambda: self._build(backend, batch_size, layer),
        )

    @staticmethod
    def _build(backend: str, batch_size: int, layer: int) -> tuple[Any, Any, Any]:
        from netcore.layers import Conv2D
        from netcore.models import Sequential

        from ._device_check_conv import COURSE_LAYERS

        h, w, c, f = COURSE_LAYERS[layer]
        conv = Conv2D(f, 3, padding="same", activation="relu")
        Sequential([conv], backend=backend, seed=common.SEED).build((h, w, c))
        rng = np.random.default_rng(common.SEED)
        xp = conv.backend.xp
        x = xp.asarray(rng.random((batch_size, h, w, c), dtype=np.float32))
        dy = xp.asarray(rng.standard_normal((batch_size, h, w, f)).astype(np.float32))
        conv.forward(x, training=True)
        conv.backward(dy.copy(), need_dx=layer > 0)
        return conv, x, dy

    def time_forward(self, backend: str, batch_size: int, layer: int) -> None:
        self.layer.forward(self.x, training=True)
        common.synchronize(backend)

    def time_forward_backward(self, backend: str, batch_size: int, layer: int) -> None:
        self.layer.forward(self.x, training=True)
        self.layer.backward(self.dy.copy(), need_dx=layer > 0)
        common.synchronize(backend)
