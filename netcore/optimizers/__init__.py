"""Optimizers with Keras 3 defaults and update rules: ``SGD``, ``Adam``, ``Adagrad``, ``RMSprop``."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, NoReturn

from ..keras_support import raise_missing
from . import schedules
from .adagrad import Adagrad
from .adam import Adam
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "Adagrad", "RMSprop", "get", "from_config", "schedules"]

_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adagrad": Adagrad, "rmsprop": RMSprop}
OPTIMIZER_NAMES = tuple(_OPTIMIZERS)


def get(identifier: Any, **kwargs: Any) -> Optimizer:
    """An optimizer from its name (Keras defaults, overridden by ``kwargs``) or an instance.

    ``get("adam", learning_rate=0.01)`` is ``Adam(learning_rate=0.01)``. This is netcore's one
    optimizer name map: ``compile``, ``load_model`` and the CLI all go through it.
    """
    if isinstance(identifier, Optimizer):
        if kwargs:
            raise ValueError(
                f"keyword arguments go with an optimizer name, not an instance; "
                f"received {identifier!r} with {sorted(kwargs)}"
            )
        return identifier
    if not isinstance(identifier, str) or identifier.lower() not in _OPTIMIZERS:
        raise ValueError(
            f"optimizer must be one of {list(OPTIMIZER_NAMES)} or a "
            f"netcore.optimizers.Optimizer, received {identifier!r}"
        )
    cls = _OPTIMIZERS[identifier.lower()]
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise TypeError(
            f"optimizer {identifier!r} takes {accepted}, received unknown argument(s) {unknown}"
        )
    return cls(**kwargs)


def from_config(config: dict) -> Optimizer:
    """The optimizer ``get_config()`` describes: ``{"name": ..., <its arguments>}``."""
    cfg = dict(config)
    return get(cfg.pop("name"), **cfg)


if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

    def __getattr__(name: str) -> NoReturn:
        """A Keras name netcore lacks (``LSTM``) raises ``NotInNetcoreError``, pointing to
        the table of what netcore has; any other missing name, ``AttributeError``."""
        raise_missing(__name__, name)
