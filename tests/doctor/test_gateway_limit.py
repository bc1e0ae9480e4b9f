"""How many connections a front door holds (doctor/gateway.py), measured on real TCP servers: one
that closes its oldest idle connection past N (as nginx reuses connections past worker_connections),
one with no limit; and the burst fitted under what was found."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from shopbench.doctor.gateway import connection_limit, fit_to_gateway, fitted_sentence


@contextlib.contextmanager
def door(keep: int | None) -> Iterator[int]:
    """A server that accepts every connection and, past `keep` open ones, closes the oldest."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)
            while keep is not None and len(held) > keep:
                held.pop(0).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for s in held:
            s.close()
        listener.close()


def test_a_door_that_closes_past_its_limit_is_measured() -> None:
    with door(300) as port:
        limit = connection_limit("127.0.0.1", port)
    assert limit.stopped == "closed" and limit.limited
    assert 200 <= limit.held <= 300, limit
    assert limit.safe_concurrency() == (limit.held // 2) * 9 // 10
    assert "about" in limit.sentence() and "worker_connections" in limit.sentence()


def test_a_door_without_a_limit_holds_everything_up_to_the_cap() -> None:
    with door(None) as port:
        limit = connection_limit("127.0.0.1", port, most=500)
    assert (limit.opened, limit.held, limit.stopped, limit.limited) == (500, 500, "none", False)
    assert limit.safe_concurrency() is None


def test_a_refusing_door_is_named() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: every connection is refused
        limit = connection_limit("127.0.0.1", port, most=100)
    assert limit.stopped == "refused" and limit.opened == 0 and not limit.limited
    assert limit.safe_concurrency() is None and "is the shop up?" in limit.sentence()


def test_a_door_that_accepts_slowly_is_no_limit() -> None:
    listener = socket.create_server(("127.0.0.1", 0), backlog=8)  # never accepts: the backlog fills
    try:
        limit = connection_limit("127.0.0.1", listener.getsockname()[1], most=200, connect_timeout=0.2, budget=3)
    finally:
        listener.close()
    assert limit.stopped in ("timeout", "slow") and not limit.limited and limit.safe_concurrency() is None
    assert "slowly" in limit.sentence()


@pytest.mark.parametrize("keep, wanted, fitted", [(300, 1000, True), (300, 50, False), (None, 1000, False)])
def test_the_burst_is_fitted_under_the_door(keep: int | None, wanted: int, fitted: bool) -> None:
    with door(keep) as port:
        clients, fit = fit_to_gateway(f"http://127.0.0.1:{port}/prefix", wanted)
    if not fitted:
        assert (clients, fit) == (wanted, None)
        return
    assert fit is not None and clients == fit["concurrency"] < wanted and clients <= fit["held"] // 2
    assert "fired with" in fitted_sentence(fit) and "--concurrency to insist" in fitted_sentence(fit)


@pytest.mark.parametrize("given", [None, "1000"])
def test_consistency_fits_its_burst_unless_told_otherwise(given: str | None, tmp_path, monkeypatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import shopbench.runner.consistency as runner
    from shopbench.cli.app import main

    seen: dict = {}

    def run_consistency(cfg, **kw):
        seen.update(concurrency=cfg.concurrency, config=kw["command_config"])
        raise KeyboardInterrupt  # stop here: what was decided is what this test is about

    monkeypatch.setattr(runner, "run_consistency", run_consistency)
    with door(300) as port:
        urls = tmp_path / "urls.json"
        urls.write_text(json.dumps({k: f"http://127.0.0.1:{port}" for k in ("ORDER_URL", "PAYMENT_URL", "STOCK_URL")}))
        main(["consistency", "--urls", str(urls)] + (["--concurrency", given] if given else []))
    err = " ".join(capsys.readouterr().err.split())
    if given:
        assert seen["concurrency"] == 1000 and seen["config"]["gateway_fit"] is None and "fired with" not in err
    else:
        fit = seen["config"]["gateway_fit"]
        assert seen["concurrency"] == fit["concurrency"] < 150 and f"fired with {fit['concurrency']} clients" in err
