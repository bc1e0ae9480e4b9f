"""nemesis/linkcheck.py to the letter: each fault's decision and the evidence sentence a user
reads, on scripted probe results; `probe` itself on real loopback sockets (found by mutation
testing, docs/mutation.md)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from types import SimpleNamespace

import pytest

import shopbench.nemesis.linkcheck as lc
from shopbench.nemesis.linkcheck import Baseline, Probe, baseline, verify, verify_healed
from shopbench.processes import free_port


def trig(**kw: float) -> SimpleNamespace:
    return SimpleNamespace(**{"ms": None, "jitter": None, "rate": None, **kw})


def answered(ms: float, nbytes: int = 10, last_ms: float | None = None, complete: bool = True,
             seconds_ms: float | None = None) -> Probe:
    last = (last_ms if last_ms is not None else ms) / 1000
    return Probe("answered", (seconds_ms if seconds_ms is not None else ms) / 1000, ms / 1000, nbytes, last, complete)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch):
    """`lc.probe` answering from a list; the calls (timeout and the rest) are kept."""
    calls: list[dict] = []
    queue: list[Probe] = []

    def fake(port: int, host: str = "127.0.0.1", timeout: float = 1.0, **kw: object) -> Probe:
        calls.append({"port": port, "host": host, "timeout": timeout, **kw})
        return queue.pop(0)

    monkeypatch.setattr(lc, "probe", fake)
    return SimpleNamespace(calls=calls, queue=queue)


BASE = Baseline([answered(2.0)])


# -- the baseline ---------------------------------------------------------------------------------
def test_the_baseline_median_and_spread():
    base = Baseline([answered(5), answered(1), Probe("silent", 1.0), answered(7), answered(3), answered(9)])
    assert base.answered and base.first_byte_s == 0.005 and base.spread_s == pytest.approx(0.002)
    assert base.outcomes() == "answered, answered, silent, answered, answered, answered"
    two = Baseline([answered(1), answered(8)])
    assert two.first_byte_s == 0.008 and two.spread_s == 0.0
    three = Baseline([answered(1), answered(2), answered(10)])
    assert three.spread_s == 0.0  # the slowest one alone is no pattern: second slowest minus median
    none = Baseline([Probe("refused", 0.001), Probe("reset", 0.001)])
    assert not none.answered and none.first_byte_s is None and none.spread_s == 0.0
    assert Baseline([Probe("closed", 0.1, None)]).answered is False


def test_the_baseline_probes_for_each_action(scripted):
    scripted.queue.extend([answered(9)] + [answered(2)] * 7)
    base = baseline("delay", 4)
    assert len(base.probes) == 7 and base.transfer is None  # the warm-up is not counted
    assert [c["timeout"] for c in scripted.calls] == [2.0] * 8 and {c["port"] for c in scripted.calls} == {4}
    scripted.calls.clear()
    transfer = answered(3, nbytes=5000, last_ms=20)
    scripted.queue.extend([answered(2), transfer])
    base = baseline("bandwidth", 4)
    assert len(base.probes) == 1 and base.transfer is transfer
    assert scripted.calls[1] == {"port": 4, "host": "127.0.0.1", "timeout": 2.0, "send": lc.TRANSFER,
                                 "read_all": True, "read_for": 2.0}
    scripted.calls.clear()
    scripted.queue.append(Probe("refused", 0.001))
    base = baseline("bandwidth", 4)
    assert base.transfer is None and len(scripted.calls) == 1  # nothing to time through a dead link
    scripted.queue.append(answered(1))
    assert len(baseline("partition", 4).probes) == 1


# -- what cannot be measured --------------------------------------------------------------------
def test_a_link_silent_before_the_fault_is_unverified_with_the_question_to_ask():
    landing = verify("partition", trig(), 9, Baseline([Probe("refused", 0.001), Probe("silent", 1.0)]))
    assert (landing.state, landing.landed) == ("unverified", False)
    assert landing.evidence == ("unverified: the link did not answer a probe before the fault (refused, silent), so "
                                "no probe can show what the partition changed; is the service behind it up, and no "
                                "other fault holding the link?")


def test_an_action_without_a_probe_is_unverified():
    assert verify("corrupt", trig(), 9, BASE) == lc.Landing("unverified", "unverified: no probe measures corrupt")


# -- partition, blackhole, reset ------------------------------------------------------------------
@pytest.mark.parametrize(("action", "outcome", "state"), [
    ("partition", "refused", "landed"), ("partition", "reset", "landed"), ("partition", "answered", "not_landed"),
    ("partition", "silent", "not_landed"), ("partition", "closed", "not_landed"),
    ("blackhole", "silent", "landed"), ("blackhole", "refused", "not_landed"), ("blackhole", "answered", "not_landed"),
    ("reset", "reset", "landed"), ("reset", "closed", "landed"), ("reset", "refused", "landed"),
    ("reset", "silent", "not_landed"), ("reset", "answered", "not_landed"),
])
def test_a_cut_lands_on_its_own_outcome(scripted, action, outcome, state):
    scripted.queue.append(Probe(outcome, 0.5004))
    landing = verify(action, trig(), 7, BASE)
    assert landing.state == state and landing.landed is (state == "landed")
    assert scripted.calls[0]["port"] == 7
    assert scripted.calls[0]["timeout"] == {"partition": 1.0, "blackhole": 0.5, "reset": 1.0}[action]
    assert landing.evidence == {
        "partition": f"probe connect to 127.0.0.1:7: {outcome} (answered before the fault)",
        "blackhole": f"probe through the link: {outcome} after 500 ms (answered before the fault)",
        "reset": f"probe through the link: {outcome} (answered before the fault)"}[action]


# -- delay --------------------------------------------------------------------------------------
def delay_base(*ms: float) -> Baseline:
    return Baseline([answered(m) for m in ms])


def test_a_delay_shown_by_two_probes_lands_with_both_times(scripted):
    scripted.queue.extend([answered(52), answered(60)])
    landing = verify("delay", trig(ms=100), 3, delay_base(2, 2, 3, 2, 2, 2, 2))
    assert landing.state == "landed"
    assert landing.evidence == ("probe round trips 52.0 and 60.0 ms through the link, 2.0 ms before the fault: "
                                "+50.0 ms (asked 100 ms +- 0)")
    assert [c["timeout"] for c in scripted.calls] == [pytest.approx(2.3)] * 2


def test_a_delay_exactly_half_late_counts(scripted):
    scripted.queue.extend([answered(52), answered(52)])
    assert verify("delay", trig(ms=100), 3, delay_base(2)).state == "landed"
    scripted.queue.extend([answered(51.9), answered(60), answered(60)])
    assert verify("delay", trig(ms=100), 3, delay_base(2)).state == "not_landed"  # two tries without jitter


def test_a_delay_that_did_not_show_says_how_late_the_probes_came(scripted):
    scripted.queue.extend([answered(70), answered(10)])
    landing = verify("delay", trig(ms=100), 3, delay_base(2))
    assert landing.state == "not_landed"
    assert landing.evidence == ("1 of 2 probes through the link late by half the delay (at most +68.0 ms over the "
                                "2.0 ms before the fault): the delay did not show (asked 100 ms +- 0)")


def test_with_jitter_up_to_eight_probes_are_tried(scripted):
    scripted.queue.extend([answered(3)] * 7 + [answered(80)])
    landing = verify("delay", trig(ms=100, jitter=50), 3, delay_base(2))
    assert landing.state == "not_landed" and len(scripted.calls) == 8
    assert landing.evidence.startswith("1 of 8 probes through the link late by half the delay")
    assert landing.evidence.endswith("(asked 100 ms +- 50)")
    assert scripted.calls[0]["timeout"] == pytest.approx(2.45)
    scripted.calls.clear()
    scripted.queue.extend([answered(3)] * 6 + [answered(80), answered(90)])
    assert verify("delay", trig(ms=100, jitter=50), 3, delay_base(2)).state == "landed"


def test_a_probe_that_gets_no_answer_under_a_delay_is_not_landed(scripted):
    scripted.queue.append(Probe("silent", 2.3))
    landing = verify("delay", trig(ms=100, jitter=5), 3, delay_base(2))
    assert landing == lc.Landing("not_landed", "probe through the link: silent (asked 100 ms +- 5; answered before)")


def test_a_delay_within_the_noise_is_unverified_naming_the_delay_that_can_be_measured():
    landing = verify("delay", trig(ms=30), 3, delay_base(2, 2, 2, 2, 20, 20, 21))
    assert landing.state == "unverified"
    assert landing.evidence == ("unverified: a delay of 30 ms is within the link's own variation (probes before the "
                                "fault came up to 18.0 ms late); an `ms` of at least 36 can be measured here")
    quiet = verify("delay", trig(ms=0.9), 3, delay_base(2, 2, 2))
    assert quiet.state == "unverified" and "up to 0.5 ms late" in quiet.evidence  # never under half a ms
    assert "at least 1 can be measured" in quiet.evidence


def test_a_delay_of_exactly_twice_the_noise_is_measured(scripted):
    scripted.queue.extend([answered(12), answered(12)])
    assert verify("delay", trig(ms=20), 3, delay_base(2, 2, 2, 2, 2, 12, 13)).state == "landed"


def test_a_delay_without_ms_is_unverified():
    assert verify("delay", trig(), 3, delay_base(2)).state == "unverified"


# -- bandwidth -----------------------------------------------------------------------------------
def rate_base(nbytes: int, last_ms: float | None) -> Baseline:
    return Baseline([answered(1)], Probe("answered", 0.1, 0.001, nbytes, None if last_ms is None else last_ms / 1000,
                                         True))


@pytest.mark.parametrize(("base", "got"), [(Baseline([answered(1)]), "nothing"), (rate_base(1023, 5), "1023 bytes"),
                                           (rate_base(4000, None), "4000 bytes")])
def test_a_transfer_too_small_to_time_leaves_a_rate_unverified(base, got):
    landing = verify("bandwidth", trig(rate=2), 3, base)
    assert landing.state == "unverified"
    assert landing.evidence == (f"unverified: 32 pipelined probe requests brought {got} back through the link before "
                                "the fault, too little to time a rate (the service does not answer pipelined HTTP/1.1 "
                                "requests); a bandwidth fault cannot be measured here")


def test_a_rate_close_to_the_links_own_is_unverified_naming_the_rate_that_can_be(scripted):
    scripted.queue.append(Probe("silent", 1.0))
    landing = verify("bandwidth", trig(rate=100), 3, rate_base(30720, 100))  # 300 KB/s, 3x 100: measurable
    assert landing.state == "not_landed" and len(scripted.calls) == 1
    landing = verify("bandwidth", trig(rate=101), 3, rate_base(30720, 100))
    assert landing.state == "unverified"
    assert landing.evidence == ("unverified: without the fault the link moved 30720 bytes at 300 KB/s, too close to "
                                "the asked 101 KB/s to tell a cap from it; a `rate` of at most 100 KB/s can be "
                                "measured here")


@pytest.fixture
def measurable(scripted):
    """A link that moved 1 MB/s before the fault; the fault asks for 10 KB/s."""
    return SimpleNamespace(base=rate_base(102400, 100), trigger=trig(rate=10), queue=scripted.queue,
                           calls=scripted.calls)


def test_a_capped_transfer_lands_with_the_measured_rate(measurable):
    measurable.queue.append(answered(5, nbytes=10240, last_ms=1000, complete=True, seconds_ms=1000))
    landing = verify("bandwidth", measurable.trigger, 3, measurable.base)
    assert landing.state == "landed"
    assert landing.evidence == ("10240 bytes in 1000 ms through the link: 10.0 KB/s, 1000 KB/s before the fault "
                                "(asked at most 10 KB/s)")
    assert measurable.calls[0] == {"port": 3, "host": "127.0.0.1", "timeout": 2.0, "send": lc.TRANSFER,
                                   "read_all": True, "read_for": lc.TRANSFER_WAIT}


def test_a_rate_up_to_one_and_a_half_times_the_cap_lands_and_over_it_does_not(measurable):
    measurable.queue.append(answered(5, nbytes=15360, last_ms=1000))
    assert verify("bandwidth", measurable.trigger, 3, measurable.base).state == "landed"
    measurable.queue.append(answered(5, nbytes=15361, last_ms=1000))
    landing = verify("bandwidth", measurable.trigger, 3, measurable.base)
    assert landing.state == "not_landed"
    assert landing.evidence.startswith("15361 bytes in 1000 ms through the link: 15.0")


def test_a_transfer_still_running_is_timed_to_when_the_probe_stopped_reading(measurable):
    # last byte at 100 ms, but the probe read for 1000 ms without the close: 10 KB in 1 s, not in 0.1 s
    measurable.queue.append(answered(5, nbytes=10240, last_ms=100, complete=False, seconds_ms=1000))
    landing = verify("bandwidth", measurable.trigger, 3, measurable.base)
    assert landing.state == "landed" and "in 1000 ms" in landing.evidence
    measurable.queue.append(answered(5, nbytes=10240, last_ms=100, complete=True, seconds_ms=1000))
    landing = verify("bandwidth", measurable.trigger, 3, measurable.base)
    assert landing.state == "not_landed" and "in 100 ms" in landing.evidence


def test_a_link_that_moves_no_byte_under_a_rate_is_not_landed(measurable):
    measurable.queue.append(Probe("silent", 1.0))
    assert verify("bandwidth", measurable.trigger, 3, measurable.base) == lc.Landing(
        "not_landed", "transfer probe through the link: silent, no byte in 1 s (a cap of 10 KB/s still moves bytes)")


# -- heal ----------------------------------------------------------------------------------------
def test_a_heal_is_read_from_the_proxy_state_while_other_faults_hold_the_link():
    assert verify_healed(3, [], {"named": {}}) == (False, "no toxic of this fault was recorded, so none was removed")
    assert verify_healed(3, ["a", "b", "c"], {"named": {"c": {}, "a": {}}}) == (False, "toxic a, c still on the link")
    assert verify_healed(3, ["a", "b"], {"named": {"z": {}, "y": {}}}) == (
        True, "toxic a, b removed; the link still carries y, z (other faults, healed on their own)")


@pytest.mark.parametrize(("outcome", "healed"), [("answered", True), ("refused", False), ("silent", False)])
def test_a_heal_of_the_last_toxic_needs_an_answer_again(scripted, outcome, healed):
    scripted.queue.append(Probe(outcome, 0.01))
    assert verify_healed(6, ["a"], {"named": None}) == (healed, f"toxic a removed; probe through the link: {outcome}")
    assert scripted.calls[0]["timeout"] == 2.0 and scripted.calls[0]["port"] == 6


# -- the probe, on real sockets -------------------------------------------------------------------
class Peer:
    """A loopback listener that does `what` with each connection."""

    def __init__(self, what):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.what = what
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self.what, args=(conn,), daemon=True).start()

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def answer_then_close(conn):
    conn.recv(4096)
    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 50)
    conn.close()


def close_unanswered(conn):
    conn.recv(4096)
    conn.close()


def reset(conn):
    conn.recv(4096)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def trickle(conn):
    conn.recv(4096)
    try:
        for _ in range(40):
            conn.sendall(b"y" * 10)
            time.sleep(0.05)
    except OSError:
        pass


def hold(conn):
    conn.recv(4096)


@pytest.fixture
def peer():
    made: list[Peer] = []

    def make(what):
        made.append(Peer(what))
        return made[-1]

    yield make
    for p in made:
        p.close()


def test_a_probe_to_a_closed_port_is_refused():
    p = lc.probe(free_port())
    assert (p.outcome, p.first_byte_s, p.nbytes, p.complete) == ("refused", None, 0, False) and p.seconds >= 0


def test_a_probe_reads_the_first_answer_or_all_of_it(peer):
    srv = peer(answer_then_close)
    first = lc.probe(srv.port)
    assert first.outcome == "answered" and first.nbytes > 0 and 0 <= first.first_byte_s == first.last_byte_s
    assert first.complete is False  # stopped at the first byte
    whole = lc.probe(srv.port, read_all=True)
    assert (whole.outcome, whole.nbytes, whole.complete) == ("answered", 19 + 50, True)
    assert whole.seconds >= whole.last_byte_s >= whole.first_byte_s > 0


def test_a_probe_closed_or_reset_without_an_answer(peer):
    assert lc.probe(peer(close_unanswered).port).outcome == "closed"
    assert lc.probe(peer(reset).port, timeout=2.0).outcome == "reset"


def test_a_probe_nobody_answers_is_silent_after_its_timeout(peer):
    p = lc.probe(peer(hold).port, timeout=0.2)
    assert p.outcome == "silent" and p.seconds >= 0.2 and p.first_byte_s is None


def test_a_probe_reading_for_a_while_stops_then_without_the_close(peer):
    p = lc.probe(peer(trickle).port, timeout=1.0, read_all=True, read_for=0.4)
    assert p.outcome == "answered" and p.complete is False
    assert 10 <= p.nbytes < 400 and 0.3 <= p.seconds < 1.5
    assert p.last_byte_s <= p.seconds
