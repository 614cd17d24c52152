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

    ``self.params`` are the trainable weights (views of the model's flat buffer, updated by
    the optimizer); ``self.state`` the non-trainable ones (BatchNormalization's moving
    statistics: the layer updates them itself, the optimizer never sees them). Both are
    weights: ``get_weights`` returns the params, then the state, and both are saved.
    """

    #: Can ``forward(x, training, logits=True)`` stop before a softmax/sigmoid so that the
    #: loss applies it (softmax + cross-entropy from logits)? Layers with an ``activation``.
    can_emit_logits: bool = False
    #: Does the layer pass its input through unchanged outside training (Dropout, the
    #: augmentation layers)? An exported model leaves it out (:mod:`netcore.export`).
    identity_at_inference: bool = False
    #: The model this layer belongs to (its weights are views of that model's flat parameter
    #: buffer, so a layer belongs to one model only); a weak reference, or None.
    _owner: weakref.ref | None = None

    def __init__(self, input_shape: Any = None, name: str | None = None) -> None:
        self.input_shape = _check_input_shape(input_shape) if input_shape is not None else None
        self.name = name or type(self).__name__.lower()
        self.params: dict[str, Any] = {}
        self.state: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.built = False
        self.output_shape: tuple[int, ...] | None = None
        self._buffers: dict[tuple, Any] = {}
        self._backend: Backend | None = None
        self._trainable = True

    @property
    def trainable(self) -> bool:
        """Does training update this layer's weights? (Keras' ``layer.trainable``.)

        Setting it to False freezes the layer: ``fit`` and ``train_on_batch`` leave its
        weights (and their optimizer slots) unchanged. As in Keras, the change takes effect
        at the model's next ``compile``; it is saved with the model.
        """
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = validation.check_bool(value, "trainable")

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

    def buffer(self, tag: str, shape: tuple[int, ...], dtype: Any = None) -> Any:
        """A work array reused across calls with the same shape (no per-step allocation),
        in the layer's dtype unless ``dtype`` says otherwise (max pooling's int32 argmax)."""
        key = (tag, shape)
        buf = self._buffers.get(key)
        if buf is None:
            if len(self._buffers) > 24:  # many distinct batch sizes: don't hoard memory
                self._buffers.clear()
            dt = self.dtype if dtype is None else dtype
            buf = self._buffers[key] = self.backend.xp.empty(shape, dtype=dt)
        return buf

    # -- computation
    def forward(self, x: Any, training: bool = False) -> Any:
        raise NotImplementedError

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        raise NotImplementedError

    # -- weights
    def weight_dict(self) -> dict[str, Any]:
        """Every weight by name (device arrays): the params, then the state."""
        return {**self.params, **self.state}

    def get_weights(self) -> list[np.ndarray]:
        """Host copies of this layer's weights, in Keras' order (Dense: kernel ``(in, out)``,
        then bias ``(out,)``; BatchNormalization: gamma, beta, moving_mean, moving_variance);
        ``[]`` before the layer is built or when it has none."""
        return [np.array(self.backend.to_numpy(v), copy=True) for v in self.weight_dict().values()]

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
        every = self.weight_dict()
        expected = [(f"{self.name}.{k}", tuple(v.shape)) for k, v in every.items()]
        arrays = validation.check_weights(weights, expected, self.dtype)
        for v, a in zip(every.values(), arrays):
            v[...] = self.backend.asarray(a)

    # -- weights as arrays to read (Keras' variables; assign with set_weights)
    # Two notions of "not trained" coexist, as in Keras: ``state`` (BatchNormalization's
    # moving statistics) is never trained; ``params`` are trained while ``trainable``.
    @property
    def weights(self) -> list[np.ndarray]:
        """Every weight of the layer as a read-only host array, in ``get_weights`` order."""
        return [_readable(self.backend, v) for v in self.weight_dict().values()]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The params while the layer is trainable, else ``[]``."""
        return [_readable(self.backend, v) for v in self.params.values()] if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The state, after the params when the layer is frozen."""
        frozen = {} if self.trainable else self.params
        return [_readable(self.backend, v) for v in {**frozen, **self.state}.values()]

    def _weight(self, key: str) -> np.ndarray:
        every = self.weight_dict()
        if not self.built or key not in every:
            state = "is not built yet" if not self.built else f"has no {key}"
            raise AttributeError(
                f"layer {self.name!r} ({type(self).__name__}) {state}; its weights are "
                f"{list(every)}"
            )
        return _readable(self.backend, every[key])

    # -- description
    def count_params(self) -> int:
        """Every weight, trainable or not (as Keras)."""
        return int(sum(int(np.prod(v.shape)) for v in self.weight_dict().values()))

    def count_trainable(self) -> int:
        """The params while the layer is trainable (0 when frozen)."""
        if not self.trainable:
            return 0
        return int(sum(int(np.prod(v.shape)) for v in self.params.values()))

    def get_config(self) -> dict:
        cfg: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            cfg["input_shape"] = list(self.input_shape)
        return cfg

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _readable(be: Backend, v: Any) -> np.ndarray:
    """A read-only host copy: writing to it raises instead of silently missing the model."""
    a = np.array(be.to_numpy(v), copy=True)
    a.flags.writeable = False
    return a


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
