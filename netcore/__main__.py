"""``python -m netcore ...``: the same command line as the ``netcore`` script."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
