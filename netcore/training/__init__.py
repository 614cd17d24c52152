"""Training and inference apart from the model's structure (Keras 3's Trainer)."""

from .guards import NonFiniteFlag, TrainingGuard
from .tracker import EpochTracker
from .trainer import Trainer

__all__ = ["EpochTracker", "NonFiniteFlag", "Trainer", "TrainingGuard"]
