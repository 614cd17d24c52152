"""Make every picture the docs show, with netcore's own code (run by Sphinx at build time).

Usage: ``python docs/make_figures.py [OUTDIR]`` (default ``docs/_generated``).
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def overfitting_history(seed: int = 0) -> dict:
    """A wide MLP on 300 noisy samples: training accuracy climbs, validation stalls and the
    validation loss turns back up (the classic picture), deterministic and data-free."""
    from netcore.layers import Dense
    from netcore.models import Sequential
    from netcore.optimizers import Adam

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 20))
    labels = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    flip = rng.random(600) < 0.2  # 20 % label noise: there is something to memorise
    labels[flip] = 1 - labels[flip]
    model = Sequential([Dense(256, activation="relu", input_shape=(20,)),
                        Dense(256, activation="relu"), Dense(2, activation="softmax")],
                       backend="cpu", seed=seed)
    model.compile(optimizer=Adam(learning_rate=0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    h = model.fit(x[:300], labels[:300], epochs=40, batch_size=32, verbose=0,
                  validation_data=(x[300:], labels[300:]))
    return h.history


def main(out: Path | str = HERE / "_generated") -> None:
    from netcore import cli
    from netcore.plotting import plot_history

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(io.StringIO()):
        for argv in (["linear", "--out", str(out / "linear")],
                     ["linear", "--learning-rate", "2", "--steps", "4", "--out", str(out / "linear-lr2")],
                     ["plot", "activations", "--out", str(out)]):
            if cli.main(argv) != 0:
                raise RuntimeError(f"netcore {' '.join(argv)} failed")
    history = overfitting_history()
    (out / "overfitting_history.json").write_text(json.dumps(history))
    plot_history(history, out / "overfitting.png", title="A wide MLP on 300 noisy samples")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else HERE / "_generated")
