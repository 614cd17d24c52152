"""Training and inference apart from the model's structure (Keras 3's Trainer)."""
from .tracker import EpochTracker
from .trainer import NonFiniteFlag, Trainer

__all__ = ["EpochTracker", "NonFiniteFlag", "Trainer"]
