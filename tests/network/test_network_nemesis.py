"""The nemesis drives link faults like process faults: parsed from kill_config, applied through the
proxy, verified by a probe (landed + evidence in faults.jsonl), healed at the end or on Ctrl-C."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from fakes.docker_engine import FakeDockerEngine
from shopbench.errors import UsageError
from shopbench.nemesis import Nemesis, parse_fault_plan, read_timeline
from shopbench.nemesis.backends.base import OK, Hit, TargetStatus
from shopbench.nemesis.network import LinkedBackend, ProxyLinks, parse_links, with_links
from shopbench.nemesis.proxy import LinkProxy

LINK = "client->stock"


class Processes:
    """A process backend with nothing to hit: these tests are about links."""

    kind = "local"

    def services(self) -> list[str]:
        return ["order", "stock", "payment"]

    def canonical(self, name: str) -> str:
        return name.removesuffix("-service")

    def apply(self, action: str, service: str, count: int = 1) -> list[Hit]:
        return [Hit(f"fake {service}", OK)]

    def recover(self, action: str, service: str, hits: list[Hit]) -> list[Hit]:
        return [Hit(f"fake {service}", OK)]

    def status(self, services: list[str] | None = None) -> list[TargetStatus]:
        return []


def linked(proxy: LinkProxy) -> LinkedBackend:
    return LinkedBackend(Processes(), ProxyLinks(proxy.address[1], proxy.links, proxy=proxy))


def plan(*triggers: dict, backend: object = None):
    return parse_fault_plan({"kill_triggers": list(triggers)}, backend=backend)


def get(port: int, timeout: float = 2.0) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("GET", "/")
    body = conn.getresponse().read()
    conn.close()
    return body


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


# -- the plan --------------------------------------------------------------------------------------
def test_network_triggers_parse_with_their_parameters() -> None:
    p = plan({"type": "time", "threshold": 1, "action": "delay", "links": ["order-service -> payment-service"],
              "ms": 200, "jitter": 20, "duration": 3},
             {"type": "checkouts", "threshold": 10, "action": "partition", "links": ["order↛payment", "order->stock"]},
             {"type": "time", "threshold": 0, "action": "bandwidth", "links": ["client->order"], "rate": 64})
    delay, part, bw = p.triggers
    assert (delay.links, delay.ms, delay.jitter, delay.hold_time()) == (["order->payment"], 200, 20, 3)
    assert part.links == ["order->payment", "order->stock"] and part.hold_time() is None
    assert bw.rate == 64 and p.links() == ["client->order", "order->payment", "order->stock"]


@pytest.mark.parametrize("trigger, message", [
    ({"type": "time", "threshold": 0, "action": "partition"}, "kill_triggers[0].links is missing"),
    ({"type": "time", "threshold": 0, "action": "partition", "links": ["order"]}, "SOURCE->TARGET"),
    ({"type": "time", "threshold": 0, "action": "delay", "links": ["a->b"]}, "kill_triggers[0].ms is missing"),
    ({"type": "time", "threshold": 0, "action": "bandwidth", "links": ["a->b"]}, "rate is missing"),
    ({"type": "time", "threshold": 0, "action": "delay", "links": ["a->b"], "ms": -1}, "milliseconds >= 0"),
    ({"type": "time", "threshold": 0, "action": "kill"}, "kill_triggers[0].services is missing"),
])
def test_bad_network_triggers_say_which_field(trigger: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        plan(trigger)


def test_links_are_checked_against_the_backend(proxy: LinkProxy) -> None:
    with pytest.raises(UsageError, match="unknown link 'order->stock'; links: client->stock, order->payment"):
        plan({"type": "time", "threshold": 0, "action": "partition", "links": ["order->stock"]},
             backend=linked(proxy))
    with pytest.raises(UsageError, match="network fault, and this backend has no links"):
        plan({"type": "time", "threshold": 0, "action": "partition", "links": ["order->stock"]},
             backend=Processes())


# -- faults on a real link -------------------------------------------------------------------------
def test_partition_lands_is_recorded_with_evidence_and_is_healed(link: LinkProxy, tmp_path: Path) -> None:
    backend = linked(link)
    port = link.port(LINK)
    p = plan({"type": "time", "threshold": 0, "action": "partition", "links": [LINK], "duration": 0.6},
             backend=backend)
    path = tmp_path / "faults.jsonl"
    with Nemesis(p, backend, path, handle_signals=False) as nem:
        assert wait_for(lambda: len(nem.entries) >= 1)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)
        assert wait_for(lambda: len(nem.entries) >= 2)
    fault, heal = read_timeline(path)
    assert (fault["action"], fault["role"], fault["service"], fault["link"], fault["result"]) == (
        "partition", "fault", LINK, LINK, "ok")
    assert fault["landed"] is True and "refused" in fault["evidence"] and fault["landed_s"] >= 0
    assert (heal["action"], heal["role"], heal["reason"], heal["healed"]) == ("heal", "recover", "duration", True)
    assert get(port) == b"hello"
    (window,) = nem.windows()
    assert window["restored"] and window["end"] is not None


@pytest.mark.parametrize("trigger, evidence", [
    ({"action": "delay", "ms": 150, "jitter": 10}, "through the link"),
    ({"action": "blackhole"}, "silent"),
    ({"action": "reset"}, "probe through the link: "),
    ({"action": "bandwidth", "rate": 0.5}, "bytes in"),
])
def test_each_action_is_verified_by_a_probe(link: LinkProxy, tmp_path: Path, trigger: dict, evidence: str) -> None:
    backend = linked(link)
    p = plan({"type": "time", "threshold": 0, "links": [LINK], "duration": 0.3, **trigger}, backend=backend)
    with Nemesis(p, backend, tmp_path / "faults.jsonl", handle_signals=False) as nem:
        assert wait_for(lambda: len(nem.entries) >= 2)
    fault, heal = nem.entries
    assert fault["landed"] is True, fault
    assert evidence in fault["evidence"], fault
    if trigger["action"] == "delay":
        added = float(fault["evidence"].split("+")[1].split(" ms")[0])
        assert added >= 100, fault["evidence"]
    assert heal["healed"] is True and get(link.port(LINK)) == b"hello"
    assert link.state()[LINK]["active"] == []


def test_a_partition_held_until_the_run_ends_is_healed_on_ctrl_c(link: LinkProxy, tmp_path: Path) -> None:
    backend = linked(link)
    p = plan({"type": "time", "threshold": 0, "action": "partition", "links": [LINK]}, backend=backend)
    nem = Nemesis(p, backend, tmp_path / "faults.jsonl").start()
    try:
        assert wait_for(lambda: len(nem.entries) >= 1)
        assert link.state()[LINK]["toxics"]["down"] is True
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
    finally:
        nem.stop()
    assert link.state()[LINK]["toxics"]["down"] is False
    heal = nem.entries[-1]
    assert (heal["action"], heal["reason"], heal["healed"]) == ("heal", "run end", True)


def test_faults_on_other_kinds_of_the_same_link_stay_while_one_heals(link: LinkProxy, tmp_path: Path) -> None:
    backend = linked(link)
    p = plan({"type": "time", "threshold": 0, "action": "bandwidth", "links": [LINK], "rate": 1000},
             {"type": "time", "threshold": 0, "action": "delay", "links": [LINK], "ms": 50, "duration": 0.2},
             backend=backend)
    with Nemesis(p, backend, tmp_path / "faults.jsonl", handle_signals=False) as nem:
        assert wait_for(lambda: sum(e["role"] == "recover" for e in nem.entries) >= 1)
        assert link.state()[LINK]["active"] == ["rate"]  # the delay healed, the bandwidth limit stays
    assert link.state()[LINK]["active"] == []


# -- a user's services file ----------------------------------------------------------------------
def test_services_file_links_start_a_proxy_and_print_its_ports(upstream: tuple[str, int], tmp_path: Path) -> None:
    services = tmp_path / "services.json"
    services.write_text(json.dumps({"services": [{"name": "stock", "command": "true"}],
                                    "links": {"order->stock": {"upstream": f"127.0.0.1:{upstream[1]}"}}}))
    said: list[str] = []
    backend, proxy = with_links(Processes(), services_file=services, echo=said.append)
    try:
        port = proxy.port("order->stock")
        assert said == [f"link order->stock: 127.0.0.1:{port} -> 127.0.0.1:{upstream[1]}"]
        assert backend.canonical_link("order-service->stock-service") == "order->stock"
        assert get(port) == b"hello"
        again, same = with_links(Processes(), services_file=services)  # a second run reuses it
        assert same is proxy
    finally:
        proxy.stop()


@pytest.mark.parametrize("links, message", [
    ([1], "must be an object"),
    ({"order": {"upstream": "127.0.0.1:1"}}, "SOURCE->TARGET"),
    ({"order->stock": {"upstream": "nowhere"}}, "upstream is 'nowhere'"),
    ({"order->stock": {"upstream": "127.0.0.1:1", "listen": "x"}}, "listen is 'x'"),
    ({"order->stock": {"upstream": "127.0.0.1:1", "port": 5}}, "port is not a known field"),
])
def test_bad_links_in_a_services_file(links: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_links(links if not isinstance(links, list) else "oops", "services.json")


def test_no_links_anywhere_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="need links"):
        with_links(Processes(), data_dir=tmp_path)


# -- Docker ----------------------------------------------------------------------------------------
def test_docker_partition_disconnects_and_reconnects_with_aliases(tmp_path: Path) -> None:
    from shopbench.nemesis.backends.docker import DockerBackend

    with FakeDockerEngine() as engine:
        engine.add("shop-order-1", service="order")
        engine.add("shop-payment-1", service="payment")
        engine.add("shop-stock-1", service="stock")
        backend, proxy = with_links(DockerBackend(engine.url, project="shop"))
        assert proxy is None
        p = plan({"type": "time", "threshold": 0, "action": "partition", "links": ["order->payment"]},
                 backend=backend)
        with Nemesis(p, backend, tmp_path / "faults.jsonl", handle_signals=False) as nem:
            assert wait_for(lambda: len(nem.entries) >= 1)
            assert engine.by_name("shop-payment-1").networks == {}
            assert engine.by_name("shop-order-1").networks  # only the link's target is cut off
        fault, heal = nem.entries
        assert fault["result"] == "ok" and fault["landed"] is True, fault
        assert "detached from network shop_default" in fault["evidence"]
        assert heal["result"] == "ok"
        assert engine.by_name("shop-payment-1").networks == {"shop_default": {"Aliases": ["payment"]}}
        assert [c[:2] for c in engine.calls] == [("network-disconnect", "shop-payment-1"),
                                                 ("network-connect", "shop-payment-1")]
        bad = plan({"type": "time", "threshold": 0, "action": "delay", "links": ["order->payment"], "ms": 5},
                   backend=backend)
        with Nemesis(bad, backend, None, handle_signals=False) as nem:
            assert wait_for(lambda: len(nem.entries) >= 1)
        assert nem.entries[0]["result"] == "error" and "can only partition" in nem.entries[0]["error"]
        # A fault hook says so before the run starts.
        from shopbench.nemesis.hooks import FaultHook

        hook = FaultHook(bad, backend=backend)

        class Run:
            def file(self, name: str) -> Path:
                return tmp_path / name

        with pytest.raises(UsageError, match=r"kill_triggers\[0\].action delay: the docker backend can only"):
            hook.bind(Run())


def test_a_link_port_in_use_is_a_target_error_naming_it(upstream: tuple[str, int], tmp_path: Path) -> None:
    from shopbench.errors import TargetError

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    services = tmp_path / "services.json"
    services.write_text(json.dumps({"services": [{"name": "stock", "command": "true"}],
                                    "links": {"order->stock": {"upstream": f"127.0.0.1:{upstream[1]}",
                                                               "listen": port}}}))
    try:
        with pytest.raises(TargetError, match="cannot start the fault proxy for the links order->stock: .*in use"):
            with_links(Processes(), services_file=services)
    finally:
        taken.close()


def test_the_partition_example_parses_and_names_the_reference_shops_links() -> None:
    from shopbench.nemesis import load_fault_plan
    from shopbench.shop import LINKS

    p = load_fault_plan(Path(__file__).resolve().parents[2] / "examples" / "partition.json")
    assert [t.action for t in p.triggers] == ["partition", "delay"]
    assert set(p.links()) <= set(LINKS)
