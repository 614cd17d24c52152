"""``python -m netcore.cli ...``: the same command line as the ``netcore`` script."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
