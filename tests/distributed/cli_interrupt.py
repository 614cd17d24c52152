"""``netcore train`` under mpiexec with Ctrl-C (KeyboardInterrupt) on rank 1 alone, at the
end of its second epoch: ``python cli_interrupt.py ARGS...`` (the arguments of ``netcore``)."""

from __future__ import annotations

import sys

from netcore import cli, distribution
from netcore.cli import train

keep = train._EpochKeeper.on_epoch_end


def on_epoch_end(self, epoch, logs=None):
    keep(self, epoch, logs)
    if epoch == 1 and distribution.get_distribution().rank == 1:
        raise KeyboardInterrupt


train._EpochKeeper.on_epoch_end = on_epoch_end  # type: ignore[method-assign]
sys.exit(cli.main(sys.argv[1:]))
