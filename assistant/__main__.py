"""Entry point for `python -m assistant` (installed, the same command is `quotefirst`)."""

import sys

from assistant.cli import main

sys.exit(main(prog="python -m assistant"))
