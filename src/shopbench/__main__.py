"""`python -m shopbench …` is the `shopbench` command."""

from shopbench.cli.app import run

run()
