"""Run the command line as ``python -m binadd``."""

import sys

from binadd.cli import main

sys.exit(main())
