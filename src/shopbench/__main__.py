"""`python -m shopbench …` is the `shopbench` command."""

import sys

from shopbench.cli.app import main

sys.exit(main())
