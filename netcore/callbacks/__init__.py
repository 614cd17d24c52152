"""Callbacks (Keras 3 names), called by ``fit`` around epochs (and batches, when asked).

The base class and History (:mod:`.base`); EarlyStopping (:mod:`.early_stopping`);
LearningRateScheduler and ReduceLROnPlateau (:mod:`.learning_rate`); CSVLogger,
LambdaCallback and TerminateOnNaN (:mod:`.logs`); ModelCheckpoint and BackupAndRestore
(:mod:`.checkpoints`).
"""

from typing import TYPE_CHECKING, NoReturn

from ..keras_support import raise_missing
from .base import Callback, History
from .checkpoints import BackupAndRestore, ModelCheckpoint
from .early_stopping import EarlyStopping
from .learning_rate import LearningRateScheduler, ReduceLROnPlateau
from .logs import CSVLogger, LambdaCallback, TerminateOnNaN

__all__ = [
    "Callback",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "BackupAndRestore",
    "LearningRateScheduler",
    "ReduceLROnPlateau",
    "CSVLogger",
    "LambdaCallback",
    "TerminateOnNaN",
]


if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

    def __getattr__(name: str) -> NoReturn:
        """A Keras name netcore lacks (``LSTM``) raises ``NotInNetcoreError``, pointing to
        the table of what netcore has; any other missing name, ``AttributeError``."""
        raise_missing(__name__, name)
