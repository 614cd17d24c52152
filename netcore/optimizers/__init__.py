"""Optimizers with Keras 3 defaults and update rules: ``SGD``, ``Adam``, ``Adagrad``, ``RMSprop``."""
from __future__ import annotations

from typing import Any

from .adagrad import Adagrad
from .adam import Adam
from .base import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "Adagrad", "RMSprop", "get", "from_config"]

_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adagrad": Adagrad, "rmsprop": RMSprop}
OPTIMIZER_NAMES = tuple(_OPTIMIZERS)


def get(identifier: Any) -> Optimizer:
    """An optimizer from its name (Keras defaults) or instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _OPTIMIZERS:
        return _OPTIMIZERS[identifier.lower()]()
    raise ValueError(f"optimizer must be one of {list(OPTIMIZER_NAMES)} or a "
                     f"netcore.optimizers.Optimizer, received {identifier!r}")


def from_config(config: dict) -> Optimizer:
    cfg = dict(config)
    return _OPTIMIZERS[cfg.pop("name")](**cfg)
