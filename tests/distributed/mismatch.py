"""Ranks that do not run the same training are stopped at the first step with a clear error.

``python mismatch.py OUT``, once per mode: rank 1 differs from rank 0 in its seed (``seed``),
in a layer's width (``units``) or in its data (``data``), and every rank must raise
DistributionMismatchError; with ``no-seed`` every rank passes ``seed=None`` (each process
draws its own) and they must adopt rank 0's. Each rank writes what happened to
``OUT/<mode>.rank<r>.txt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import netcore
from netcore import layers
from netcore.distribution import DataParallel, DistributionMismatchError, set_distribution

MODES = ("seed", "units", "data", "no-seed")


def attempt(what: str, rank: int) -> str:
    other = rank == 1
    seed = None if what == "no-seed" else 5 if other and what == "seed" else 4
    units = 9 if other and what == "units" else 8
    x = np.random.default_rng(2 if other and what == "data" else 1).normal(size=(40, 4))
    y = x[:, :1] * 2
    model = netcore.Sequential(
        [layers.Dense(units, activation="relu", input_shape=(4,)), layers.Dense(1)],
        backend="cpu",
        seed=seed,
    )
    model.compile(optimizer="sgd", loss="mse")
    try:
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    except DistributionMismatchError as exc:
        return f"refused: {exc}"
    weights = np.concatenate([w.ravel() for w in model.get_weights()])
    return f"trained with seed {model.seed}, weights {weights.tobytes().hex()}"


dist = DataParallel()
set_distribution(dist)
for mode in MODES:
    (Path(sys.argv[1]) / f"{mode}.rank{dist.rank}.txt").write_text(attempt(mode, dist.rank))
