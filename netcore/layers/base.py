"""The Layer base class: lazy build from the input shape, forward, backward, config."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import validation
from ..backend.base import Backend


@dataclass
class BuildContext:
    """What a layer needs to create its weights."""

    backend: Backend
    dtype: Any  # numpy dtype (float32 / float64)
    rng: np.random.Generator  # host generator: weights are drawn on the host, then moved


class Layer:
    """A layer maps a batch ``(N, *input_shape)`` to ``(N, *output_shape)``.

    ``forward`` keeps what ``backward`` needs; ``backward(dy, need_dx)`` fills ``self.grads``
    (same keys as ``self.params``) and returns ``dx`` (``None`` when not needed: the first
    layer never needs it). Work buffers are reused between steps of equal batch size.
    """

    #: Can ``forward(x, training, logits=True)`` stop before a softmax/sigmoid so that the
    #: loss applies it (softmax + cross-entropy from logits)? Layers with an ``activation``.
    can_emit_logits: bool = False
    #: The model this layer belongs to (its weights are views of that model's flat parameter
    #: buffer, so a layer belongs to one model only); a weak reference, or None.
    _owner: weakref.ref | None = None

    def __init__(self, input_shape: Any = None, name: str | None = None) -> None:
        self.input_shape = _check_input_shape(input_shape) if input_shape is not None else None
        self.name = name or type(self).__name__.lower()
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.built = False
        self.output_shape: tuple[int, ...] | None = None
        self._buffers: dict[tuple, Any] = {}
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        """The backend the layer was built on (set by ``build``)."""
        if self._backend is None:
            raise RuntimeError(f"layer {self.name!r} is not built yet, so it has no backend")
        return self._backend

    # -- construction
    def build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        self.input_shape = tuple(input_shape)
        self._backend = ctx.backend
        self.dtype = ctx.dtype
        self.output_shape = self._build(self.input_shape, ctx)
        self.grads = {k: ctx.backend.xp.zeros_like(v) for k, v in self.params.items()}
        self._buffers.clear()
        self.built = True
        return self.output_shape

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        return input_shape

    def buffer(self, tag: str, shape: tuple[int, ...]) -> Any:
        """A work array reused across calls with the same shape (no per-step allocation)."""
        key = (tag, shape)
        buf = self._buffers.get(key)
        if buf is None:
            if len(self._buffers) > 16:  # many distinct batch sizes: don't hoard memory
                self._buffers.clear()
            buf = self._buffers[key] = self.backend.xp.empty(shape, dtype=self.dtype)
        return buf

    # -- computation
    def forward(self, x: Any, training: bool = False) -> Any:
        raise NotImplementedError

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        raise NotImplementedError

    # -- weights
    def get_weights(self) -> list[np.ndarray]:
        """Host copies of this layer's weights, in Keras' order (Dense: kernel ``(in, out)``,
        then bias ``(out,)``); ``[]`` before the layer is built or when it has none."""
        if not self.params:
            return []
        return [np.array(self.backend.to_numpy(v), copy=True) for v in self.params.values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace this layer's weights (same order and shapes as ``get_weights()``), in place:
        inside a model the new values land in the model's parameter buffer."""
        weights = list(weights)
        if not self.built:
            if weights:
                raise ValueError(
                    f"set_weights: layer {self.name!r} is not built yet, so it has no "
                    "weights to set; add it to a model whose input shape is known"
                )
            return
        expected = [(f"{self.name}.{k}", tuple(v.shape)) for k, v in self.params.items()]
        arrays = validation.check_weights(weights, expected, self.dtype)
        for v, a in zip(self.params.values(), arrays):
            v[...] = self.backend.asarray(a)

    # -- description
    def count_params(self) -> int:
        return int(sum(int(np.prod(v.shape)) for v in self.params.values()))

    def get_config(self) -> dict:
        cfg: dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            cfg["input_shape"] = list(self.input_shape)
        return cfg

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _check_input_shape(shape: Any, name: str = "input_shape") -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        dims = tuple(int(d) for d in shape)
        ok = all(d > 0 and d == s for d, s in zip(dims, shape)) and len(dims) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"{name} must be a tuple of positive integers (without the batch "
            f"dimension), e.g. (784,), received {shape!r}"
        )
    return dims
