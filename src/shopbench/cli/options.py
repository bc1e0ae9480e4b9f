"""Flags shared by `consistency`, `stress` and `suite`: one definition, the same spelling everywhere."""

from __future__ import annotations

import typer

# Choice lists for help texts, kept here so `--help` imports neither the reference shop's process
# supervisor nor gevent. tests/report/test_cli_startup.py checks them against their homes
# (shopbench.shop.FLAWS, shopbench.workload.populate.MODES).
FLAWS = ("lost-update, no-compensation, no-recovery, double-charge, early-ack, oversell, abort-on-timeout, "
         "retry-new-txid")
POPULATE_MODES = "auto|batch|api"

FAULTS = typer.Option(None, "--faults", help="kill_config.json (seed 001's format): faults fired during the "
                      "load; time triggers count from the load's start, fractions allowed.")
FAULT_BACKEND = typer.Option("local", "--fault-backend", help="With --faults and --urls: local | docker | k8s "
                             "(k8s: --services-file names the namespace and label selectors).")
SERVICES_FILE = typer.Option(None, "--services-file", help="With --faults --urls: your services "
                             "(JSON/TOML: name, command, cwd, env, health_url; with --fault-backend k8s: namespace and "
                             "a label selector per service).")
SERVICES_DATA = typer.Option(None, "--services-data", help="With --faults --urls: a shopbench supervisor state "
                             "directory (e.g. .shopbench/shop/services of `shopbench shop up`).")
DOCKER_URL = typer.Option(None, "--docker-url", help="With --fault-backend docker: the Engine URL "
                          "(default: DOCKER_HOST or the local socket).")


DRIVER = typer.Option(None, "--driver", help="Your shop's API, if it differs from docs/shop-api.md: a subclass of "
                      "shopbench.driver.RestDriver as module:Class or path/to/file.py:Class.")
MAPPING = typer.Option(None, "--mapping", help="Your shop's API as a TOML mapping file, no Python "
                       "(docs/shop-api.md; `shopbench mapping draft --openapi URL` writes a first one).")
