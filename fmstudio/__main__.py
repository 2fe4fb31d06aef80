"""`python -m fmstudio` is the `fmstudio` command."""

import sys

from fmstudio.cli import main

sys.exit(main())
