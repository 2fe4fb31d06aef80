"""`python -m fmstudio` is the `fmstudio` command."""

import sys

from fmstudio.cli import main

if __name__ == "__main__":
    sys.exit(main())
