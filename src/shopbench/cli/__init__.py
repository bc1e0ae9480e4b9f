"""The `shopbench` command line: thin modules that parse flags, build a config and call a runner."""
