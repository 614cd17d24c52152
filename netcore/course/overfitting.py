"""Plain-words advice on overfitting after a training run, from its accuracies and losses.

Two signs are read, the course's own:

* the accuracy gap ``|train_acc - val_acc|``: validation accuracy more than ``threshold``
  below training accuracy means the network memorises its training images; more than
  ``threshold`` ABOVE it means the two numbers are not comparable (training accuracy is
  averaged over an epoch while the weights were still improving, and measured with Dropout
  on; or the validation images are easier);
* the validation-loss trend: the epoch with the lowest validation loss against the last.
  When the last is ``RISING_EPOCHS`` (2) or more epochs after the lowest, the network has
  started to overfit, even while the accuracies are still close.

The first line of the advice is the verdict and starts with one of ``OVERFITTING:``,
``MISMATCH:``, ``WATCH:`` or ``No sign of overfitting:``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["overfitting_advice", "OVERFIT_THRESHOLD", "RISING_EPOCHS"]

#: Accuracies further apart than this are called a gap.
OVERFIT_THRESHOLD = 0.03
#: Epochs past the lowest validation loss that count as a rising loss.
RISING_EPOCHS = 2

_REMEDIES = (
    "Try: fewer epochs or early stopping (--epochs, --patience 2), Dropout "
    "(--dropout 0.2), a smaller model (--hidden 128), or more training data."
)


def overfitting_advice(
    train_acc: float,
    val_acc: float,
    val_losses: Sequence[float] = (),
    threshold: float = OVERFIT_THRESHOLD,
    n_val: int | None = None,
) -> list[str]:
    """The verdict and advice, one line per entry.

    Args:
        train_acc: training accuracy of the final weights (or the last epoch's running value).
        val_acc: validation accuracy of the same weights.
        val_losses: validation loss after each epoch, first epoch first.
        threshold: the accuracy gap that counts.
        n_val: validation images; when so few that one image moves accuracy by more than a
            third of ``threshold``, a last line says the comparison is rough.
    """
    gap = train_acc - val_acc
    since_best, trend = _loss_trend(val_losses)
    rising = since_best >= RISING_EPOCHS
    if gap > threshold:
        lines = [
            f"OVERFITTING: validation accuracy ({val_acc:.4f}) trails training accuracy "
            f"({train_acc:.4f}) by {gap:.4f}, more than {threshold}. The network is "
            "memorising its training images instead of learning what carries over to "
            "new ones.",
            *trend,
            _REMEDIES,
        ]
    elif rising:
        close = (
            f", although the accuracies are still within {threshold}"
            if abs(gap) <= threshold
            else ""
        )
        lines = [
            f"OVERFITTING: validation loss has risen for {since_best} epochs since its "
            f"lowest point{close} (training accuracy {train_acc:.4f}, validation "
            f"{val_acc:.4f}). A rising validation loss is the first sign: the network "
            "grows more confident on training images and less right on new ones.",
            *trend,
            _REMEDIES,
        ]
    elif -gap > threshold:
        lines = [
            f"MISMATCH: validation accuracy ({val_acc:.4f}) is above training accuracy "
            f"({train_acc:.4f}) by {-gap:.4f}, more than {threshold}: not overfitting, "
            "but the two numbers are not comparable yet.",
            *trend,
            "Training accuracy is averaged over the epoch while the weights were still "
            "improving (and measured with Dropout switched on), so early on it lags; "
            "a validation set easier than the training set does this too. Train more "
            "epochs, or compare model.evaluate on both sets.",
        ]
    elif since_best == 1:
        lines = [
            f"WATCH: the accuracies are within {threshold} (training {train_acc:.4f}, "
            f"validation {val_acc:.4f}), but validation loss went up in the last epoch.",
            *trend,
            "One epoch can be noise; if it keeps rising, stop earlier "
            "(--patience 2 stops after two epochs without improvement).",
        ]
    else:
        lines = [
            f"No sign of overfitting: validation accuracy ({val_acc:.4f}) is within "
            f"{threshold} of training accuracy ({train_acc:.4f})"
            + (" and validation loss is at its lowest." if len(val_losses) > 1 else ".")
        ]
    if n_val is not None and 0 < n_val and 1.0 / n_val > threshold / 3:
        lines.append(
            f"(With only {n_val:,} validation images each one moves validation accuracy "
            f"by {1.0 / n_val:.3f}: treat this comparison as rough.)"
        )
    return lines


def _loss_trend(val_losses: Sequence[float]) -> tuple[int, list[str]]:
    """Epochs since the lowest validation loss, and a line stating both values (or none)."""
    if len(val_losses) < 2:
        return 0, []
    best = int(np.argmin(val_losses))
    since = len(val_losses) - 1 - best
    if since == 0:
        return 0, []
    return since, [
        f"Validation loss was lowest after epoch {best + 1} ({val_losses[best]:.4f}) "
        f"and is {val_losses[-1]:.4f} after epoch {len(val_losses)}."
    ]
