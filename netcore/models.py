"""Sequential: a linear stack of layers, its build, weights, summary and config.

Structure lives here; training and inference (``compile``/``fit``/``evaluate``/``predict``/
``train_on_batch``) come from :class:`netcore.training.Trainer`, which ``Sequential``
inherits as Keras 3's ``Model`` inherits its trainer. Every weight (and every gradient) is a
view of one flat buffer, so an optimizer step is one fused op over all parameters.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np

from . import validation as V
from .backend import get_backend
from .backend.base import Backend
from .layers import Input, Layer
from .layers.base import BuildContext
from .saving.files import ModelFiles
from .trainable import TrainableFlags
from .training import Trainer
from .training.shortcuts import Shortcuts


class Sequential(Trainer, Shortcuts, TrainableFlags, ModelFiles):
    """A linear stack of layers.

    ``Sequential(layers=None, backend=None, seed=None, dtype="float32")``: ``backend`` is
    "cpu", "cuda" or "auto" (None: ``netcore.set_backend`` / ``NETCORE_BACKEND`` / "auto");
    ``seed`` fixes weights, shuffling and dropout (bit-identical runs on the CPU backend on
    one machine with one BLAS thread count, ``OPENBLAS_NUM_THREADS``: docs/backends.md).
    """

    def __init__(
        self,
        layers: Iterable[Layer | Input] | None = None,
        backend: str | Backend | None = None,
        seed: int | None = None,
        dtype: str = "float32",
        name: str = "sequential",
    ) -> None:
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
        ):
            raise ValueError(f"seed must be a non-negative integer or None, received {seed!r}")
        # A seed is always recorded, so a saved model resumes with the same shuffles.
        drawn = cast(int, np.random.SeedSequence().entropy)  # an int when drawn from the OS
        self.seed = int(seed) if seed is not None else drawn % 2**63
        self._seed_given = seed is not None  # a data-parallel fit adopts rank 0's drawn seed
        self.dtype = V.check_dtype(dtype)
        self.backend = get_backend(backend, seed=self.seed)
        self.name = name
        self.layers: list[Layer] = []
        self.built = False
        self._declared_input: tuple[int, ...] | None = None
        #: where each (layer, weight name) sits in the flat parameter buffer
        self._slices: dict[tuple[int, str], slice] = {}
        #: where the trainable weights start in the flat buffer (frozen ones come first)
        self._trainable_offset = 0
        self._laid_out_frozen: frozenset[int] = frozenset()
        self._trainable = True
        self._warned_frozen: frozenset[int] | None = None
        #: layer names in use (checked when a layer is added) and the next suffix per base
        #: name, valid while ``_names_for`` still describes ``self.layers``
        self._names: set[str] = set()
        self._next_suffix: dict[str, int] = {}
        self._names_for: tuple[int, int] = (0, 0)
        super().__init__()
        # Built once after the last layer, not once per layer: linear in the number of layers.
        self._defer_build = True
        try:
            for layer in layers or ():
                self.add(layer)
        finally:
            self._defer_build = False
        if self.layers and self.layers[0].input_shape is not None:
            self._rebuild()

    # ------------------------------------------------------------------ structure
    def add(self, layer: Layer | Input) -> None:
        """Append a layer; the model builds at once when its input shape is known.

        On a built model the existing layers keep their weights and the optimizer keeps their
        state (Adam's moments, the step count); only the new layer starts fresh. A layer
        belongs to one model: adding a layer that another model holds raises ``ValueError``
        (its weights live in that model's parameter buffer); build a new layer and copy the
        weights with ``new.set_weights(old.get_weights())`` instead. Naming a layer (``dense``,
        ``dense_1``, ...) takes constant time; an add to a built model rebuilds its parameter
        buffer, so build deep models from a list (``Sequential([...])``, ``from_config``,
        ``load_model``), which builds once.
        """
        if isinstance(layer, Input):
            self._add_input(layer)
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"layer must be a netcore.layers.Layer or Input, received {layer!r}")
        self._claim(layer)
        if not self.layers and self._declared_input is not None:
            if layer.input_shape is None and not layer.built:
                layer.input_shape = self._declared_input
            elif tuple(layer.input_shape or ()) != self._declared_input:
                raise ValueError(
                    f"Input(shape={self._declared_input}) and the first layer's "
                    f"input_shape={layer.input_shape} disagree; give one of them"
                )
        if self.layers and layer.input_shape is not None and not layer.built:
            layer.input_shape = None  # only the first layer's input_shape means anything
        self._unique_name(layer)
        self.layers.append(layer)
        layer._owner = weakref.ref(self)
        self._names_for = (len(self.layers), id(layer))
        if self._defer_build or self.layers[0].input_shape is None:
            self.built = False
            return
        try:
            self._rebuild()
        except BaseException:
            # The new layer does not fit (e.g. Dense after images without Flatten): drop it and
            # put the model back as it was, weights and optimizer state included.
            self.layers.pop()
            layer._owner = None
            if self.layers:
                self._rebuild()
            raise

    def pop(self) -> Layer:
        """Remove the last layer and return it (Keras' ``pop``): the other layers keep their
        weights and optimizer state."""
        if not self.layers:
            raise ValueError("pop: the model has no layers to remove")
        layer = self.layers.pop()
        layer._owner = None
        if self.layers and self.built:
            self._rebuild()
        elif not self.layers:
            self.built = False
        return layer

    def _unique_name(self, layer: Layer) -> None:
        """Keras-style unique names: dense, dense_1, dense_2, ... in O(1) per layer (the name
        set is rebuilt only when ``self.layers`` changed other than by ``add``)."""
        if self._names_for != (len(self.layers), id(self.layers[-1]) if self.layers else 0):
            self._names = {other.name for other in self.layers}
            self._next_suffix = {}
        if layer.name in self._names:
            base = layer.name
            k = self._next_suffix.get(base, 1)
            while f"{base}_{k}" in self._names:
                k += 1
            self._next_suffix[base] = k + 1
            layer.name = f"{base}_{k}"
        self._names.add(layer.name)

    def _add_input(self, spec: Input) -> None:
        if self.layers or self._declared_input is not None:
            raise ValueError(f"{spec!r} must be the first element of the model, before any layer")
        self._declared_input = spec.shape

    def _claim(self, layer: Layer) -> None:
        """Refuse a layer that this model or another one already holds."""
        owner = layer._owner() if layer._owner is not None else None
        if owner is self:
            raise ValueError(
                f"layer {layer.name!r} is already in this model; a layer can appear "
                "once (create another layer for a second one)"
            )
        if owner is not None:
            raise ValueError(
                f"layer {layer.name!r} already belongs to model {owner.name!r}; a "
                "layer's weights live in one model, so it cannot be shared. Create "
                "a new layer and copy the weights: new.set_weights(old.get_weights())"
            )

    def build(self, input_shape: Sequence[int] | None = None) -> None:
        """Create the weights from ``input_shape`` (per sample, without the batch dimension).

        Building a built model again keeps every weight; a different ``input_shape`` than
        the one it was built with is an error.
        """
        if not self.layers:
            raise ValueError("the model has no layers; add some with model.add(...)")
        shape = tuple(input_shape) if input_shape is not None else self.layers[0].input_shape
        if shape is None:
            raise ValueError(
                "the input shape is unknown: give the first layer input_shape=..., "
                "or call fit/predict first"
            )
        if self.built:
            if tuple(shape) != self.input_shape:
                raise ValueError(
                    f"the model is built for input shape {self.input_shape}, "
                    f"received build({tuple(shape)}); build a new model for new inputs"
                )
            return
        self._rebuild(tuple(shape))

    def _rebuild(self, shape: tuple[int, ...] | None = None) -> None:
        """(Re)create the parameter buffers; layers already built for the same input shape keep
        their weights and their optimizer state. New layers get the weights a model built from
        scratch with this seed would give them (every layer draws from the seeded generator
        in order, kept ones too, and then gets its own values back)."""
        shape = shape if shape is not None else self.layers[0].input_shape
        assert shape is not None
        old_slices = dict(self._slices)
        rng = np.random.default_rng(self.seed)
        ctx = BuildContext(self.backend, self.dtype, rng)
        kept: list[Layer] = []
        for layer in self.layers:
            previous = layer.weight_dict() if layer.built and layer.input_shape == shape else None
            shape = layer.build(shape, ctx)
            if previous is not None:
                every = layer.weight_dict()
                for k, v in previous.items():
                    every[k][...] = v
                kept.append(layer)
        first = self.layers[0].input_shape
        assert first is not None  # set by its build
        self.input_shape = tuple(first)
        self.output_shape = shape
        self._refs = [(layer, k) for layer in self.layers for k in layer.params]
        old_offset = self._trainable_offset
        self._flatten_parameters()
        late = [
            layer.name
            for layer in self.layers[self._first_trainable :]
            if getattr(layer, "augments", False)
        ]
        if late:
            raise ValueError(
                f"augmentation layers {late} come after a layer with weights; they pass no "
                "gradient back, so put them at the start of the model, before any such layer"
            )
        self.built = True
        self._on_build(self._carried(kept, old_slices, old_offset))

    def _carried(
        self, kept: Sequence[Layer], old_slices: dict[tuple[int, str], slice], old_offset: int
    ) -> list[tuple[slice, slice]]:
        """``(old, new)`` slices, relative to the trainable part of the buffer (what the
        optimizer's state covers), of the weights trainable in both layouts."""
        new_offset, carried = self._trainable_offset, []
        for layer in kept:
            for k in layer.params:
                old, new = old_slices.get((id(layer), k)), self._slices[(id(layer), k)]
                if old is not None and old.start >= old_offset and new.start >= new_offset:
                    carried.append((_shift(old, old_offset), _shift(new, new_offset)))
        return carried

    def _flatten_parameters(self) -> None:
        """Put every weight (and every gradient) into one contiguous 1-D buffer; the layers
        keep views of it. The optimizer then updates all parameters with ONE fused op per
        step instead of one per tensor (on a GPU each launch costs tens of microseconds of
        host time, more than the update itself at MNIST sizes). Elementwise rules make this
        exactly the per-tensor update.

        Frozen layers' weights (``trainable = False``) come first, the trainable ones after
        them, each group in layer order: the optimizer's one op and its state cover the
        trainable tail ``[_trainable_offset:]`` alone. Freezing the first layers of a model
        (the usual fine-tuning) keeps layer order. The layout follows the layers'
        ``trainable`` flags when it is made: at build and at ``compile``, as in Keras."""
        xp = self.backend.xp
        refs = [r for r in self._refs if not r[0].trainable]
        refs += [r for r in self._refs if r[0].trainable]
        sizes = [int(np.prod(layer.params[k].shape)) for layer, k in refs]
        self._flat_params = xp.empty(sum(sizes), dtype=self.dtype)
        self._flat_grads = xp.zeros(sum(sizes), dtype=self.dtype)
        self._slices = {}
        self._trainable_offset = 0
        offset = 0
        for (layer, k), size in zip(refs, sizes):
            shape = layer.params[k].shape
            view = self._flat_params[offset : offset + size].reshape(shape)
            view[...] = layer.params[k]
            layer.params[k] = view
            layer.grads[k] = self._flat_grads[offset : offset + size].reshape(shape)
            self._slices[(id(layer), k)] = slice(offset, offset + size)
            offset += size
            if not layer.trainable:
                self._trainable_offset = offset
        self._laid_out_frozen = self._frozen_layers()
        trainable = [i for i, layer in enumerate(self.layers) if layer.params and layer.trainable]
        self._first_trainable = trainable[0] if trainable else len(self.layers)

    def _params(self) -> list[Any]:
        return [layer.params[k] for layer, k in self._refs]

    def _weight_items(self) -> list[tuple[str, Any]]:
        """``("layer.name", array)`` of every weight, trainable or not, in ``get_weights``
        order: layer by layer, each layer's params then its state (Keras' order)."""
        return [
            (f"{layer.name}.{k}", v)
            for layer in self.layers
            for k, v in layer.weight_dict().items()
        ]

    def count_params(self) -> int:
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn: Any = print) -> None:
        """Print each layer's output shape and parameter count, and the totals."""
        self._require_built("summary")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer in self.layers:
            act = getattr(layer, "activation", None)
            kind = type(layer).__name__ + (f", {act}" if act and act != "linear" else "")
            rows.append(
                (
                    f"{layer.name} ({kind})",
                    str((None, *(layer.output_shape or ()))),
                    f"{layer.count_params():,}",
                )
            )
        widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
        line = "-" * sum(widths)
        print_fn(
            f'Model: "{self.name}"  (backend: {self.backend.describe()}, dtype: {self.dtype.name})'
        )
        print_fn(line)
        for i, r in enumerate(rows):
            print_fn("".join(c.ljust(w) for c, w in zip(r, widths)))
            if i == 0:
                print_fn("=" * sum(widths))
        print_fn(line)
        total = self.count_params()
        trainable = sum(layer.count_trainable() for layer in self.layers)
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {trainable:,}")
        print_fn(f"Non-trainable params: {total - trainable:,}")

    # ------------------------------------------------------------------ passes
    def _forward(self, x: Any, training: bool, logits: bool = False) -> Any:
        """Run the layers; with ``logits`` the last one stops before its softmax/sigmoid."""
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if logits and i == last:  # a layer that can_emit_logits takes logits=
                x = cast(Any, layer).forward(x, training, logits=True)
            else:
                x = layer.forward(x, training)
        return x

    def _backward(self, grad: Any, on_layer: Callable[[int], None] | None = None) -> None:
        """Fill every layer's gradients (views of ``_flat_grads``) from d loss / d output;
        ``on_layer(i)`` runs as soon as layer ``i``'s gradients are complete (data parallelism
        starts summing them across ranks there, while the earlier layers' backward runs)."""
        for i in range(len(self.layers) - 1, self._first_trainable - 1, -1):
            grad = self.layers[i].backward(grad, need_dx=i > self._first_trainable)
            if on_layer is not None:
                on_layer(i)

    # ------------------------------------------------------------------ weights and files
    def get_weights(self) -> list[np.ndarray]:
        """Host copies of every weight: per Dense its kernel (in, out), then its bias (out,);
        per BatchNormalization gamma, beta, then the non-trainable moving mean and variance."""
        self._require_built("get_weights")
        return [np.array(self.backend.to_numpy(p), copy=True) for _, p in self._weight_items()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace every weight (same order and shapes as ``get_weights``)."""
        self._require_built("set_weights")
        items = self._weight_items()
        expected = [(name, tuple(p.shape)) for name, p in items]
        params = [p for _, p in items]
        for a, p in zip(V.check_weights(weights, expected, self.dtype), params):
            p[...] = self.backend.asarray(a)

    def get_config(self) -> dict:
        """The architecture: name, seed, dtype and each layer's class and config."""
        return {
            "name": self.name,
            "seed": self.seed,
            "dtype": self.dtype.name,
            "layers": [
                {"class": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    @classmethod
    def from_config(cls, config: dict, backend: str | Backend | None = None) -> Sequential:
        """A new model from ``get_config()``'s output (fresh weights, built when the first
        layer's config holds its ``input_shape``)."""
        from .layers import LAYER_CLASSES

        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(
                f"config must be a dict with a 'layers' list, as get_config() returns, "
                f"received {config!r:.200}"
            )
        layers = []
        for spec in config["layers"]:
            kind = spec.get("class") if isinstance(spec, dict) else None
            if kind not in LAYER_CLASSES or not isinstance(spec.get("config"), dict):
                raise ValueError(
                    f"config layers must be {{'class': one of {sorted(LAYER_CLASSES)}, "
                    f"'config': {{...}}}}, received {spec!r:.200}"
                )
            layer_config = dict(spec["config"])
            trainable = layer_config.pop("trainable", True)
            layer = LAYER_CLASSES[kind](**layer_config)
            layer.trainable = trainable
            layers.append(layer)
        return cls(
            layers,
            backend=backend,
            seed=config.get("seed"),
            dtype=config.get("dtype", "float32"),
            name=config.get("name", "sequential"),
        )

    # ------------------------------------------------------------------ checks
    def _require_compiled(self, what: str) -> None:
        super()._require_compiled(what)
        self._check_layout_is_current(what)

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise RuntimeError(
                f"{what}() needs a built model: give the first layer input_shape=..., "
                "call model.build(input_shape), or fit/predict on data first"
            )


def _shift(where: slice, by: int) -> slice:
    return slice(where.start - by, where.stop - by)


def model_from_json(json_string: str, backend: str | Backend | None = None) -> Sequential:
    """A new model (fresh weights) from :meth:`Sequential.to_json`'s output."""
    try:
        spec = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"model_from_json: not JSON ({exc}). Received: {json_string!r:.200}"
        ) from None
    if not isinstance(spec, dict) or spec.get("class_name") != "Sequential":
        raise ValueError(
            "model_from_json expects what Sequential.to_json() writes, "
            f'{{"class_name": "Sequential", "config": ...}}. Received: {json_string!r:.200}'
        )
    return Sequential.from_config(cast(dict, spec.get("config")), backend=backend)
