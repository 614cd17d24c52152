"""Keras' ``trainable`` at the model level: the flag that sets every layer's, the weights
by kind as read-only arrays, and the warning when flags change after ``compile`` (the layout
of the flat parameter buffer, frozen weights first, is made at build and ``compile``:
:meth:`netcore.models.Sequential._flatten_parameters`)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import validation as V


class TrainableFlags:
    """Mixed into :class:`~netcore.models.Sequential`."""

    layers: list[Any]
    name: str
    built: bool
    _trainable: bool
    _laid_out_frozen: frozenset[int]
    _warned_frozen: frozenset[int] | None
    _flat_params: Any
    _flat_grads: Any
    _trainable_offset: int
    _flatten_parameters: Any

    def _frozen_layers(self) -> frozenset[int]:
        return frozenset(id(layer) for layer in self.layers if layer.params and not layer.trainable)

    def _relayout(self) -> None:
        """Lay the buffer out again when ``trainable`` flags changed (``compile`` calls it)."""
        if self.built and self._frozen_layers() != self._laid_out_frozen:
            self._flatten_parameters()

    def _trainable_buffers(self) -> tuple[Any, Any]:
        """The trainable tail of the parameter and gradient buffers (views)."""
        return (
            self._flat_params[self._trainable_offset :],
            self._flat_grads[self._trainable_offset :],
        )

    @property
    def trainable(self) -> bool:
        """Keras' ``model.trainable``: setting it sets every layer's ``trainable`` (takes
        effect at the next ``compile``)."""
        return all(layer.trainable for layer in self.layers) if self.layers else self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = V.check_bool(value, "trainable")
        for layer in self.layers:
            layer.trainable = value

    @property
    def weights(self) -> list[np.ndarray]:
        """Every weight, layer by layer, as read-only host arrays (``get_weights`` order)."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The weights of the trainable layers (read-only host arrays)."""
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        """The weights of the frozen layers (read-only host arrays)."""
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    def _check_layout_is_current(self, what: str) -> None:
        """Warn once when ``trainable`` flags changed since the layout ``compile`` made."""
        if what in ("fit", "train_on_batch") and self.built:
            frozen = self._frozen_layers()
            if frozen != self._laid_out_frozen and frozen != self._warned_frozen:
                self._warned_frozen = frozen
                warnings.warn(
                    f"model {self.name!r}: a layer's trainable flag changed after compile; "
                    "the change takes effect at the next model.compile(...) (as in Keras), "
                    f"so {what} trains the layers compile saw as trainable",
                    UserWarning,
                    stacklevel=3,
                )
