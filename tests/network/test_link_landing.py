"""A link fault is `landed` only when a probe through the link measured its effect against a
baseline through the same link; what cannot be measured is `unverified`, and the run UNKNOWN.
Each check is tried with its toxic (landed) and without it (not landed), on a real link."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_network_nemesis import Processes

from shopbench.checker.recovery import fault_sections
from shopbench.nemesis import Nemesis, parse_fault_plan
from shopbench.nemesis.linkcheck import baseline, verify
from shopbench.nemesis.network import LinkedBackend, ProxyLinks
from shopbench.nemesis.proxy import LinkProxy

LINK = "client->stock"


def trig(**kw: float) -> SimpleNamespace:
    return SimpleNamespace(**{"ms": None, "jitter": None, "rate": None, **kw})


def check(link: LinkProxy, action: str, trigger: SimpleNamespace, toxics: dict | None) -> tuple[str, str]:
    """Baseline, then (maybe) the toxic, then the verification: (state, evidence)."""
    port = link.port(LINK)
    base = baseline(action, port)
    if toxics is not None:
        link.add_toxic(LINK, "under-test", "both", **toxics)
    landing = verify(action, trigger, port, base)
    return landing.state, landing.evidence


@pytest.mark.parametrize("action, trigger, toxics", [
    ("partition", trig(), {"down": True}),
    ("blackhole", trig(), {"blackhole": True}),
    ("reset", trig(), {"reset": True}),
    ("delay", trig(ms=150), {"latency_ms": 150}),
    # jitter as large as the delay: each probe is late by 0..300 ms; one late by half the delay is enough
    ("delay", trig(ms=150, jitter=150), {"latency_ms": 150, "jitter_ms": 150}),
    ("bandwidth", trig(rate=2), {"rate": 2048}),
])
def test_each_fault_lands_with_its_toxic_and_not_without(link: LinkProxy, action: str, trigger: SimpleNamespace,
                                                          toxics: dict) -> None:
    state, evidence = check(link, action, trigger, toxics)
    assert state == "landed", evidence
    link.clear(LINK)
    state, evidence = check(link, action, trigger, None)  # the same check, nothing applied
    assert state == "not_landed", evidence


def test_bandwidth_evidence_is_a_measured_rate(link: LinkProxy) -> None:
    state, evidence = check(link, "bandwidth", trig(rate=2), {"rate": 2048})
    assert state == "landed"
    kbs = float(evidence.split("through the link: ")[1].split(" KB/s")[0])
    assert 0 < kbs <= 3.0, evidence  # at most the rate (1.5x for timing), measured


def test_a_rate_as_fast_as_the_link_is_unverified_and_says_which_rate_can_be(link: LinkProxy) -> None:
    state, evidence = check(link, "bandwidth", trig(rate=1_000_000), {"rate": 1_000_000 * 1024})
    assert state == "unverified"
    assert "too close to the asked 1e+06 KB/s" in evidence and "a `rate` of at most" in evidence


def test_a_delay_within_the_links_noise_is_unverified(link: LinkProxy) -> None:
    state, evidence = check(link, "delay", trig(ms=0.5), {"latency_ms": 0.5})
    assert state == "unverified"
    assert "within the link's own variation" in evidence and "an `ms` of at least" in evidence


def test_a_link_that_did_not_answer_before_the_fault_is_unverified() -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        with LinkProxy.start({LINK: dead.getsockname()[:2]}) as p:
            for action, trigger in (("partition", trig()), ("delay", trig(ms=100)), ("bandwidth", trig(rate=1))):
                base = baseline(action, p.port(LINK))
                landing = verify(action, trigger, p.port(LINK), base)
                assert landing.state == "unverified", landing
                assert "the link did not answer a probe before the fault" in landing.evidence
    finally:
        dead.close()


def test_an_unverified_fault_makes_the_run_unknown_with_its_reason(link: LinkProxy, tmp_path: Path) -> None:
    backend = LinkedBackend(Processes(), ProxyLinks(link.address[1], link.links, proxy=link))
    plan = parse_fault_plan({"kill_triggers": [
        {"type": "time", "threshold": 0, "action": "bandwidth", "links": [LINK], "rate": 1_000_000, "duration": 0.1}]},
        backend=backend)
    with Nemesis(plan, backend, tmp_path / "faults.jsonl", handle_signals=False) as nem:
        deadline = time.monotonic() + 15
        while len(nem.entries) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    fault = nem.entries[0]
    assert (fault["landed"], fault["verification"]) == (False, "unverified"), fault
    sections = fault_sections([], nem.entries)
    (reason,) = sections["fault_landing"]["unknown_reasons"]
    assert "bandwidth client->stock" in reason and "a `rate` of at most" in reason, reason


def test_a_service_that_answers_too_little_to_time_leaves_a_rate_unverified() -> None:
    # One short answer per connection, then a close: nothing a transfer probe could time a rate on.
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                peer, _ = server.accept()
            except OSError:
                return
            peer.recv(65536)
            peer.sendall(b"HTTP/1.0 200 OK\r\n\r\nok")
            peer.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with LinkProxy.start({LINK: server.getsockname()[:2]}) as p:
            base = baseline("bandwidth", p.port(LINK))
            p.add_toxic(LINK, "slow", rate=100)
            landing = verify("bandwidth", trig(rate=0.1), p.port(LINK), base)
        assert landing.state == "unverified", landing
        assert "too little to time a rate" in landing.evidence
    finally:
        server.close()


def test_a_link_that_moves_no_byte_is_not_a_rate_limit(link: LinkProxy) -> None:
    state, evidence = check(link, "bandwidth", trig(rate=2), {"blackhole": True})
    assert state == "not_landed" and "no byte in 1 s" in evidence, evidence


def scripted_probes(monkeypatch: pytest.MonkeyPatch, first_bytes_ms: list[float]) -> None:
    """The delay check's decisions on given probe times (the probes themselves are tested above)."""
    import shopbench.nemesis.linkcheck as lc

    times = iter(first_bytes_ms)

    def fake(port: int, host: str = "127.0.0.1", timeout: float = 1.0, **kw: object) -> lc.Probe:
        ms = next(times)
        return lc.Probe("answered", ms / 1000, ms / 1000, 10, ms / 1000, True)

    monkeypatch.setattr(lc, "probe", fake)


def test_one_late_probe_is_a_hiccup_not_a_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    # warm-up, 7 baseline probes, then one probe late by 100 ms and one on time
    scripted_probes(monkeypatch, [40, 2, 2, 2, 2, 2, 2, 2, 102, 2])
    base = baseline("delay", 1)
    assert verify("delay", trig(ms=100), 1, base).state == "not_landed"


def test_one_slow_baseline_probe_does_not_make_a_delay_unmeasurable(monkeypatch: pytest.MonkeyPatch) -> None:
    # the slowest baseline probe (60 ms) is left out of the variation; the median is the reference
    scripted_probes(monkeypatch, [90, 2, 3, 2, 60, 3, 3, 9, 33, 34])
    base = baseline("delay", 1)
    landing = verify("delay", trig(ms=30), 1, base)
    assert landing.state == "landed" and "3.0 ms before the fault: +30.0 ms" in landing.evidence, landing


def test_two_late_baseline_probes_make_a_small_delay_unverified(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2 of 7 probes ~20 ms over the median without any fault: a 30 ms delay (two probes 15 ms late) could be faked
    scripted_probes(monkeypatch, [90, 2, 3, 2, 22, 3, 3, 23])
    landing = verify("delay", trig(ms=30), 1, baseline("delay", 1))
    assert landing.state == "unverified" and "an `ms` of at least 38 can be measured" in landing.evidence, landing
