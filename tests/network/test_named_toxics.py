"""Toxics named per fault and stream (Toxiproxy's model): a fault adds its own toxic, its heal
removes only that one. Overlapping faults on one link, through the proxy and through the nemesis."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_network_nemesis import Processes, get

from shopbench.nemesis import Nemesis, parse_fault_plan, read_timeline
from shopbench.nemesis.network import LinkedBackend, ProxyLinks
from shopbench.nemesis.proxy import LinkProxy, ProxyError, Toxic
from shopbench.nemesis.proxy.toxics import combine

LINK = "client->stock"


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# -- what toxics add up to -------------------------------------------------------------------------
def test_toxics_add_up_per_stream() -> None:
    toxics = [Toxic("a", "upstream", {"latency_ms": 100, "jitter_ms": 5}), Toxic("b", "upstream", {"latency_ms": 50}),
              Toxic("c", "downstream", {"latency_ms": 7, "rate": 2000}), Toxic("d", "both", {"rate": 1000}),
              Toxic("e", "both", {"latency_ms": 3, "slice_bytes": 8, "slice_ms": 2}),
              Toxic("f", "downstream", {"slice_bytes": 4, "slice_ms": 1})]
    up, down = combine(toxics, "upstream"), combine(toxics, "downstream")
    assert (up.latency_ms, up.jitter_ms, up.rate, up.slice_bytes, up.slice_ms) == (153, 5, 1000, 8, 2)
    # a `both` toxic's latency counts once per round trip, on the way up
    assert (down.latency_ms, down.rate, down.slice_bytes, down.slice_ms) == (7, 1000, 4, 2)
    assert not up.down and not down.blackhole


def test_link_wide_toxics_act_whatever_their_stream() -> None:
    t = combine([Toxic("x", "downstream", {"down": True}), Toxic("y", "upstream", {"blackhole": True}),
                 Toxic("z", "downstream", {"reset": True})], "upstream")
    assert (t.down, t.blackhole, t.reset) == (True, True, True)
    assert combine([], "upstream").active() == []


# -- on the proxy ------------------------------------------------------------------------------------
def test_two_overlapping_delays_add_up_and_end_independently(link: LinkProxy) -> None:
    link.add_toxic(LINK, "delay-1/upstream", "upstream", latency_ms=100)
    state = link.add_toxic(LINK, "delay-2/upstream", "upstream", latency_ms=40)
    assert state["toxics"]["latency_ms"] == 140 and set(state["named"]) == {"delay-1/upstream", "delay-2/upstream"}
    assert link.remove_toxic(LINK, "delay-1/upstream") is True
    state = link.state()[LINK]
    assert state["toxics"]["latency_ms"] == 40 and list(state["named"]) == ["delay-2/upstream"]
    assert link.remove_toxic(LINK, "delay-1/upstream") is False  # gone already: nothing else is touched
    assert link.state()[LINK]["named"] == {"delay-2/upstream": {"stream": "upstream", "latency_ms": 40}}


def test_a_partition_lifted_under_a_second_partition_keeps_the_link_down(link: LinkProxy) -> None:
    link.add_toxic(LINK, "partition-1/both", down=True)
    link.add_toxic(LINK, "partition-2/both", down=True)
    link.remove_toxic(LINK, "partition-1/both")
    assert link.state()[LINK]["listening"] is False
    link.remove_toxic(LINK, "partition-2/both")
    assert link.state()[LINK]["listening"] is True and get(link.port(LINK)) == b"hello"


def test_a_downstream_delay_slows_the_answers(link: LinkProxy) -> None:
    import http.client

    link.add_toxic(LINK, "slow-answers", "downstream", latency_ms=200)
    conn = http.client.HTTPConnection("127.0.0.1", link.port(LINK), timeout=5)
    t0 = time.perf_counter()
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"hello"
    assert time.perf_counter() - t0 >= 0.2
    assert link.state()[LINK]["named"] == {"slow-answers": {"stream": "downstream", "latency_ms": 200}}


def test_bad_toxics_are_refused_with_a_reason(link: LinkProxy) -> None:
    link.add_toxic(LINK, "a", latency_ms=1)
    with pytest.raises(ProxyError, match="has a toxic named 'a' already"):
        link.add_toxic(LINK, "a", latency_ms=2)
    with pytest.raises(ProxyError, match="stream is 'sideways'; it must be one of upstream, downstream, both"):
        link.add_toxic(LINK, "b", "sideways", latency_ms=2)
    with pytest.raises(ProxyError, match="unknown toxic 'latency'"):
        link.add_toxic(LINK, "b", latency=2)


# -- through the nemesis ---------------------------------------------------------------------------
def linked(proxy: LinkProxy) -> LinkedBackend:
    return LinkedBackend(Processes(), ProxyLinks(proxy.address[1], proxy.links, proxy=proxy))


def test_overlapping_delays_each_heal_their_own(link: LinkProxy, tmp_path: Path) -> None:
    backend = linked(link)
    plan = parse_fault_plan({"kill_triggers": [
        {"type": "time", "threshold": 0, "action": "delay", "links": [LINK], "ms": 120, "duration": 30},
        {"type": "time", "threshold": 0.1, "action": "delay", "links": [LINK], "ms": 60, "duration": 0.3}]},
        backend=backend)
    with Nemesis(plan, backend, tmp_path / "faults.jsonl", handle_signals=False) as nem:
        assert wait_for(lambda: any(e["role"] == "recover" for e in nem.entries))
        # The short delay healed; the long one is in force, alone.
        state = link.state()[LINK]
        assert list(state["named"]) == ["delay-1/upstream"] and state["toxics"]["latency_ms"] == 120, state
        heal = next(e for e in nem.entries if e["role"] == "recover")
        assert heal["toxics"] == ["delay-2/upstream"] and heal["healed"] is True, heal
        assert "the link still carries delay-1/upstream" in heal["evidence"]
    assert link.state()[LINK]["named"] == {}
    lines = read_timeline(tmp_path / "faults.jsonl")
    assert sorted(x["toxics"][0] for x in lines if x["role"] == "fault") == ["delay-1/upstream", "delay-2/upstream"]
    assert all(x["healed"] for x in lines if x["role"] == "recover"), lines


def test_a_heal_during_a_partition_records_healed(link: LinkProxy, tmp_path: Path) -> None:
    backend = linked(link)
    plan = parse_fault_plan({"kill_triggers": [
        {"type": "time", "threshold": 0, "action": "bandwidth", "links": [LINK], "rate": 1000, "duration": 0.6},
        {"type": "time", "threshold": 0.1, "action": "partition", "links": [LINK]}]},  # until the run ends
        backend=backend)
    with Nemesis(plan, backend, tmp_path / "faults.jsonl", handle_signals=False) as nem:
        assert wait_for(lambda: any(e["role"] == "recover" for e in nem.entries))
        heal = next(e for e in nem.entries if e["role"] == "recover")
        assert heal["service"] == LINK and heal["healed"] is True, heal
        assert heal["toxics"] == ["bandwidth-1/upstream", "bandwidth-1/downstream"]
        assert "the link still carries partition-2/both" in heal["evidence"], heal
        assert link.state()[LINK]["listening"] is False  # the partition stays
    partition_heal = [e for e in nem.entries if e["role"] == "recover"][-1]
    assert partition_heal["toxics"] == ["partition-2/both"] and partition_heal["healed"] is True
    assert "probe through the link: answered" in partition_heal["evidence"]
    assert get(link.port(LINK)) == b"hello"


def test_a_heal_whose_toxic_is_still_there_or_unknown_is_not_healed(link: LinkProxy) -> None:
    from shopbench.nemesis.network import verify_healed

    port = link.port(LINK)
    assert verify_healed(port, ["delay-1/upstream"], {"named": {"delay-1/upstream": {}}}) == (
        False, "toxic delay-1/upstream still on the link")
    assert verify_healed(port, [], {"named": {}}) == (False, "no toxic of this fault was recorded, so none was removed")
    assert verify_healed(port, ["delay-1/upstream"], {"named": {}}) == (
        True, "toxic delay-1/upstream removed; probe through the link: answered")
