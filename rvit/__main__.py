"""``python -m rvit ...`` and the ``rvit`` console script: the command line of :mod:`rvit.cli`."""

import sys

from rvit.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
