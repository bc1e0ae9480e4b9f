"""The fault flags shared by `consistency` and `stress` (one definition, the same spelling in both)."""

from __future__ import annotations

from pathlib import Path

import typer

FAULTS = typer.Option(None, "--faults", help="kill_config.json (seed 001's format): faults fired during the "
                      "load; time triggers count from the load's start, fractions allowed.")
FAULT_BACKEND = typer.Option("local", "--fault-backend", help="With --faults and --urls: local | docker.")
SERVICES_FILE = typer.Option(None, "--services-file", help="With --faults --urls: your services "
                             "(JSON/TOML: name, command, cwd, env, health_url).")
SERVICES_DATA = typer.Option(None, "--services-data", help="With --faults --urls: a shopbench supervisor state "
                             "directory (e.g. .shopbench/shop/services of `shopbench shop up`).")
DOCKER_URL = typer.Option(None, "--docker-url", help="With --fault-backend docker: the Engine URL "
                          "(default: DOCKER_HOST or the local socket).")

__all__ = ["DOCKER_URL", "FAULTS", "FAULT_BACKEND", "SERVICES_DATA", "SERVICES_FILE", "Path"]
