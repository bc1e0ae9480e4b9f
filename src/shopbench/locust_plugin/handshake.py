"""The remote pool and configuration handshake: a worker on another machine (`shopbench stress
--worker`) did not inherit the populated pool nor the workload, so it asks the master for both
right after connecting and configures its user classes from the answer."""

from __future__ import annotations

from typing import Any

from shopbench.locust_plugin import session as sessions

MSG_SETUP, MSG_SETUP_REQUEST = "shopbench_setup", "shopbench_setup_request"


def install_worker(runner: Any) -> None:
    runner.register_message(MSG_SETUP, _on_setup)
    if sessions.current().remote_worker:
        # Ask now that the answer has a handler (a worker connects before Locust's init event).
        runner.send_message(MSG_SETUP_REQUEST, None)


def install_master(runner: Any) -> None:
    runner.register_message(MSG_SETUP_REQUEST, _on_setup_request)


def _on_setup_request(environment: Any, msg: Any, **_: Any) -> None:
    sess = sessions.current()
    environment.runner.send_message(MSG_SETUP, {"pool": sess.pool.to_dict(), "config": sess.config.to_dict()},
                                    client_id=msg.node_id)


def _on_setup(environment: Any, msg: Any, **_: Any) -> None:
    from shopbench.locust_plugin.config import StressConfig
    from shopbench.workload.skew import Pool

    sess = sessions.current()
    if sess.remote_worker and not sess.pool_ready.is_set():
        sess.pool = Pool.from_dict(msg.data["pool"])
        master = StressConfig.from_dict(msg.data["config"])
        # The whole workload is the master's: the mix, its weights and wait, the load's shape.
        timeout = sess.config.timeout  # the one setting that stays the worker's own (its network)
        sess.config = master
        sess.config.timeout = timeout
        if sess.on_config is not None:
            sess.on_config(master)
        sess.pool_ready.set()
