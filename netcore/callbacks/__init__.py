"""Callbacks (Keras 3 names), called by ``fit`` around epochs (and batches, when asked).

The base class and History (:mod:`.base`); EarlyStopping (:mod:`.early_stopping`);
LearningRateScheduler and ReduceLROnPlateau (:mod:`.learning_rate`); CSVLogger,
LambdaCallback and TerminateOnNaN (:mod:`.logs`); ModelCheckpoint and BackupAndRestore
(:mod:`.checkpoints`).
"""

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
