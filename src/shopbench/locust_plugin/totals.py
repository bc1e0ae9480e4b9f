"""Locust's own final totals (requests, failures), kept for run.json beside the history's count:
the two must agree, and a run whose history lost lines shows it there."""

from __future__ import annotations

from typing import Any

from shopbench.locust_plugin import session as sessions


def keep_totals(environment: Any) -> None:
    sess = sessions.current()
    total = environment.runner.stats.total
    sess.locust_requests, sess.locust_failures = total.num_requests, total.num_failures
