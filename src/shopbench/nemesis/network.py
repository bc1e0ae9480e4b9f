"""Network faults: actions on named links (`order->payment`), through the fault proxy or Docker.

Actions (kill_config.json triggers with `"links": [...]` instead of `"services"`):

  delay      every request through the link waits `ms` milliseconds (+- `jitter`)
  bandwidth  the link carries at most `rate` KB/s each way
  partition  the link is down: new connections are refused and existing ones reset
  blackhole  the link swallows bytes: connections are accepted and never answered, existing
             ones stall (the slow failure a partition looks like without a RST)
  reset      existing connections are reset, and new ones are reset as soon as they open

Each is held for its `duration` (or `recovery_time`; none: until the run ends) and then undone
("heal"); each is verified after it is applied by a probe through the link: a refused connect, a
probe that gets no answer, a reset, a round trip measured against the direct one. The probe sends
`HEAD / HTTP/1.0` and waits for the first byte back, which any HTTP server (REST or gRPC) answers.

Where the links come from:
  * the reference shop started with links (`RefShop(links=True)`, which shopbench does when a
    fault plan has network actions) writes `links.json` beside its services directory;
  * a user's services file lists `links`; shopbench starts the proxy and prints the port of each
    link, and the user points the service's upstream URL at it:

        {"services": [...],
         "links": {"order->payment": {"upstream": "127.0.0.1:8002", "listen": 18002}}}

  * Docker: `partition` disconnects the containers of the link's target service from the
    networks they share with its source service, and reconnects them (with their aliases) to heal.
    Docker cannot cut one link alone: every link into that service is cut.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopbench.configfile import parse_hostport
from shopbench.errors import ShopbenchError, TargetError, UsageError

NETWORK_ACTIONS = ("delay", "partition", "blackhole", "reset", "bandwidth")
LINK_RE = re.compile(r"[A-Za-z0-9_.\-]+->[A-Za-z0-9_.\-]+")
LINKS_FILE = "links.json"
PROBE = b"HEAD / HTTP/1.0\r\n\r\n"
ARROWS = ("->", "→", "↛")

# The toxics each action sets; healing clears exactly these, so faults of other kinds on the same
# link stay in force.
ACTION_TOXICS = {
    "delay": ("latency_ms", "jitter_ms"),
    "bandwidth": ("rate",),
    "partition": ("down",),
    "blackhole": ("blackhole",),
    "reset": ("reset",),
}


def canonical_link(name: str) -> str:
    """`a->b` (spaces dropped, `→`/`↛` accepted); UsageError if it is not one."""
    text = str(name).replace(" ", "")
    for arrow in ARROWS[1:]:
        text = text.replace(arrow, "->")
    if not LINK_RE.fullmatch(text):
        raise UsageError(f"{name!r} is not a link name; a link is SOURCE->TARGET, e.g. order->payment.")
    src, dst = text.split("->")
    return f"{_short(src)}->{_short(dst)}"


def _short(service: str) -> str:
    # Seed 001's Compose names: order-service -> order.
    return service[: -len("-service")] if service.endswith("-service") else service


def toxics_for(action: str, trigger: Any) -> dict[str, Any]:
    if action == "delay":
        return {"latency_ms": float(trigger.ms or 0), "jitter_ms": float(trigger.jitter or 0)}
    if action == "bandwidth":
        return {"rate": float(trigger.rate) * 1024}
    return {ACTION_TOXICS[action][0]: True}


# -- the services file's `links` --------------------------------------------------------------------
@dataclass(frozen=True)
class LinkSpec:
    name: str
    upstream: tuple[str, int]
    listen: int = 0  # 0: any free port (printed when the proxy starts)


def parse_links(data: Any, source: str) -> list[LinkSpec]:
    """The `links` field of a services file: {"a->b": {"upstream": "host:port", "listen": port}}
    or a list of {"name", "upstream", "listen"}. Bad input: one UsageError naming file and field."""
    if data is None:
        return []
    entries: list[tuple[str, Any]]
    if isinstance(data, dict):
        entries = list(data.items())
    elif isinstance(data, list):
        entries = [(e.get("name") if isinstance(e, dict) else None, e) for e in data]
    else:
        raise UsageError(f"{source}: field links must be an object like "
                         f"{{\"order->payment\": {{\"upstream\": \"127.0.0.1:8002\", \"listen\": 18002}}}}.")
    out: list[LinkSpec] = []
    for key, body in entries:
        where = f"{source}: links[{key!r}]"
        if not isinstance(body, dict):
            body = {"upstream": body}
        unknown = sorted(set(body) - {"name", "upstream", "listen"})
        if unknown:
            raise UsageError(f"{where}.{unknown[0]} is not a known field; allowed: upstream, listen.")
        try:
            name = canonical_link(key or "")
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        upstream = body.get("upstream")
        try:
            address = parse_hostport(upstream)
        except ValueError:
            raise UsageError(f"{where}.upstream is {upstream!r}; it must be HOST:PORT of the service the link "
                             f"leads to, e.g. 127.0.0.1:8002.") from None
        listen = body.get("listen", 0)
        if not isinstance(listen, int) or isinstance(listen, bool) or not 0 <= listen < 65536:
            raise UsageError(f"{where}.listen is {listen!r}; it must be a port number (0: any free port).")
        if any(s.name == name for s in out):
            raise UsageError(f"{where}: link {name!r} appears twice.")
        out.append(LinkSpec(name, address, listen))
    return out


def links_of_services_file(path: str | Path) -> list[LinkSpec]:
    from shopbench.configfile import read_config

    data = read_config(path, "services file", toml=True)
    return parse_links(data.get("links") if isinstance(data, dict) else None, str(path))


def write_links_file(path: str | Path, control: int, pid: int, links: Mapping[str, Mapping[str, Any]]) -> None:
    Path(path).write_text(json.dumps({"control": control, "pid": pid, "links": dict(links)}, indent=2) + "\n")


def read_links_file(path: str | Path) -> dict[str, Any] | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


# -- probes ----------------------------------------------------------------------------------------
@dataclass
class Probe:
    outcome: str  # "answered" | "refused" | "reset" | "silent" (no byte before the timeout) | "closed"
    seconds: float
    first_byte_s: float | None = None
    nbytes: int = 0


def probe(port: int, host: str = "127.0.0.1", timeout: float = 1.0, read_all: bool = False) -> Probe:
    """Connect, send PROBE, wait for the first byte back (or all bytes until close)."""
    t0 = time.perf_counter()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return Probe("refused", time.perf_counter() - t0)
    except TimeoutError:
        return Probe("silent", time.perf_counter() - t0)
    except OSError:
        return Probe("reset", time.perf_counter() - t0)
    with contextlib.closing(sock):
        first = None
        n = 0
        try:
            sock.sendall(PROBE)
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                n += len(data)
                if first is None:
                    first = time.perf_counter() - t0
                if not read_all:
                    break
        except TimeoutError:
            if first is None:
                return Probe("silent", time.perf_counter() - t0)
        except OSError:
            if first is None:
                return Probe("reset", time.perf_counter() - t0)
        took = time.perf_counter() - t0
        if first is None:
            return Probe("closed", took)
        return Probe("answered", took, first, n)


def verify(action: str, trigger: Any, port: int, upstream: tuple[str, int]) -> tuple[bool, str]:
    """(landed, evidence) of a fault just applied to the link listening on `port`."""
    if action == "partition":
        p = probe(port, timeout=1.0)
        return p.outcome in ("refused", "reset"), f"probe connect to 127.0.0.1:{port}: {p.outcome}"
    if action == "blackhole":
        wait = 0.5
        p = probe(port, timeout=wait)
        return p.outcome == "silent", f"probe through the link: {p.outcome} after {p.seconds * 1000:.0f} ms"
    if action == "reset":
        p = probe(port, timeout=1.0)
        return p.outcome in ("reset", "closed", "refused"), f"probe through the link: {p.outcome}"
    if action == "delay":
        ms = float(trigger.ms or 0)
        timeout = 2.0 + 3 * (ms + float(trigger.jitter or 0)) / 1000
        # The quicker of two direct round trips: one slow answer of the service must not hide the delay.
        direct = min((probe(upstream[1], upstream[0], timeout=timeout) for _ in range(2)),
                     key=lambda p: p.first_byte_s if p.first_byte_s is not None else float("inf"))
        via = probe(port, timeout=timeout)
        if via.first_byte_s is None or direct.first_byte_s is None:
            return False, f"probe through the link: {via.outcome}; direct: {direct.outcome}"
        added = (via.first_byte_s - direct.first_byte_s) * 1000
        floor = ms - float(trigger.jitter or 0)
        return added >= 0.5 * floor, (f"probe round trip {via.first_byte_s * 1000:.1f} ms through the link, "
                                      f"{direct.first_byte_s * 1000:.1f} ms direct: +{added:.1f} ms "
                                      f"(asked {ms:g} ms +- {float(trigger.jitter or 0):g})")
    if action == "bandwidth":
        rate = float(trigger.rate) * 1024
        direct = probe(upstream[1], upstream[0], timeout=5.0, read_all=True)
        via = probe(port, timeout=5.0 + direct.nbytes / rate, read_all=True)
        expect = via.nbytes / rate if via.nbytes else 0.0
        measured = (f"{via.nbytes} bytes in {via.seconds * 1000:.1f} ms through the link, "
                    f"{direct.seconds * 1000:.1f} ms direct")
        if expect < 0.005:
            # A probe answer is a few hundred bytes: at a high rate it is too small to time.
            return via.outcome == "answered", (f"{measured}; too small to time at {trigger.rate:g} KB/s, "
                                               f"the proxy applies it")
        return via.seconds >= 0.5 * expect, f"{measured} (at {trigger.rate:g} KB/s it takes >= {expect * 1000:.1f} ms)"
    return False, f"no probe for {action}"


def verify_healed(port: int) -> tuple[bool, str]:
    p = probe(port, timeout=2.0)
    return p.outcome == "answered", f"probe through the link after healing: {p.outcome}"


# -- backends ---------------------------------------------------------------------------------------
class ProxyLinks:
    """Link faults through a running fault proxy (its control port and its links)."""

    kind = "proxy"

    def __init__(self, control: int, links: Mapping[str, Mapping[str, Any]], proxy: Any = None):
        from shopbench.nemesis.proxy import ProxyClient

        self.client = proxy if proxy is not None else ProxyClient(control)
        self.links = {name: dict(info) for name, info in links.items()}

    @classmethod
    def from_file(cls, path: str | Path) -> ProxyLinks | None:
        data = read_links_file(path)
        if not data:
            return None
        return cls(int(data["control"]), data["links"])

    def names(self) -> list[str]:
        return sorted(self.links)

    def _upstream(self, link: str) -> tuple[str, int]:
        return parse_hostport(self.links[link]["upstream"])

    def apply(self, action: str, link: str, trigger: Any) -> Any:
        from shopbench.nemesis.backends.base import OK

        port = int(self.links[link]["port"])
        t0 = time.time()
        self.client.set(link, **toxics_for(action, trigger))
        landed, evidence = verify(action, trigger, port, self._upstream(link))
        return _hit(f"link {link} 127.0.0.1:{port}", OK, link, landed, evidence, time.time() - t0)

    def recover(self, action: str, link: str) -> Any:
        from shopbench.nemesis.backends.base import OK
        from shopbench.nemesis.proxy import Toxics

        defaults = Toxics()
        self.client.set(link, **{k: getattr(defaults, k) for k in ACTION_TOXICS[action]})
        port = int(self.links[link]["port"])
        healed, evidence = verify_healed(port)
        hit = _hit(f"link {link} 127.0.0.1:{port}", OK, link, healed, evidence)
        hit.extra = {"link": link, "healed": healed, "evidence": evidence}
        return hit


class DockerLinks:
    """Partitions as Docker network disconnect/connect of the link's target service's containers."""

    kind = "docker"

    def __init__(self, docker_backend: Any):
        self.docker = docker_backend
        self.saved: dict[str, list[tuple[str, str, list[str]]]] = {}  # link -> (container id, network, aliases)

    def names(self) -> list[str]:
        services = self.docker.services()
        return [f"{a}->{b}" for a in services for b in services if a != b]

    def _networks(self, container: Any) -> dict[str, Any]:
        return (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}

    def apply(self, action: str, link: str, trigger: Any) -> Any:
        from shopbench.nemesis.backends.base import ERROR, OK

        if action != "partition":
            return _hit(f"link {link}", ERROR, link, False, None, error=f"the docker backend can only partition "
                        f"links, not {action} them; use the reference shop's or a services file's proxy links")
        src, dst = link.split("->")
        t0 = time.time()
        try:
            src_nets = {n for c in self.docker.containers(self.docker.canonical(src)) for n in self._networks(c)}
            targets = self.docker.containers(self.docker.canonical(dst))
            cut = []
            for c in targets:
                for net, info in self._networks(c).items():
                    if net in src_nets:
                        self.docker.client.networks.get(net).disconnect(c.id)
                        cut.append((c.id, net, list((info or {}).get("Aliases") or [])))
        except ShopbenchError as exc:
            return _hit(f"link {link}", ERROR, link, False, None, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - docker SDK errors: recorded, the run goes on
            return _hit(f"link {link}", ERROR, link, False, None, error=f"{type(exc).__name__}: {exc}")
        self.saved[link] = cut
        if not cut:
            return _hit(f"link {link}", ERROR, link, False, None,
                        error=f"{dst} shares no Docker network with {src}: nothing to partition")
        still = [(cid, net) for cid, net, _ in cut if net in self._networks(self.docker.client.containers.get(cid))]
        evidence = ("; ".join(f"container {cid[:12]} detached from network {net}" for cid, net, _ in cut)
                    if not still else f"still attached: {still}")
        where = ", ".join(sorted({net for _, net, _ in cut}))
        return _hit(f"link {link} (networks {where})", OK, link, not still, evidence, time.time() - t0)

    def recover(self, action: str, link: str) -> Any:
        from shopbench.nemesis.backends.base import ERROR, OK

        errors = []
        for cid, net, aliases in self.saved.pop(link, []):
            try:
                self.docker.client.networks.get(net).connect(cid, aliases=aliases or None)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{cid[:12]} {net}: {exc}")
        if errors:
            return _hit(f"link {link}", ERROR, link, False, None, error="; ".join(errors))
        return _hit(f"link {link}", OK, link, True, "containers reconnected")


def _hit(target: str, result: str, link: str, landed: bool, evidence: str | None, landed_s: float | None = None,
         error: str | None = None) -> Any:
    from shopbench.nemesis.backends.base import Hit

    hit = Hit(target, result, error, handle=link)
    # Written into faults.jsonl beside the process fields (see Nemesis._record).
    hit.extra = {"link": link, "landed": landed, "evidence": evidence,  # type: ignore[attr-defined]
                 "landed_s": round(landed_s, 4) if landed_s is not None else None}
    return hit


class LinkedBackend:
    """A process backend plus links: process actions go to `inner`, network actions to `links`."""

    def __init__(self, inner: Any, links: ProxyLinks | DockerLinks):
        self.inner = inner
        self.links = links
        self.kind = inner.kind

    def __getattr__(self, name: str) -> Any:  # services, canonical, status, start, stop, ...
        return getattr(self.inner, name)

    def apply(self, action: str, service: str, count: int = 1) -> list[Any]:
        return self.inner.apply(action, service, count)

    def recover(self, action: str, service: str, hits: list[Any]) -> list[Any]:
        if action in NETWORK_ACTIONS:
            return [self.links.recover(action, service)]
        return self.inner.recover(action, service, hits)

    def link_names(self) -> list[str]:
        return self.links.names()

    def canonical_link(self, name: str) -> str:
        link = canonical_link(name)
        known = self.links.names()
        if link not in known:
            raise UsageError(f"unknown link {name!r}; links: {', '.join(known) or 'none'}.")
        return link

    def apply_link(self, action: str, link: str, trigger: Any) -> list[Any]:
        return [self.links.apply(action, link, trigger)]


def check_plan(plan: Any, backend: Any) -> None:
    """UsageError, before the run, for a network action `backend` cannot perform."""
    links = getattr(backend, "links", None)
    if not isinstance(links, DockerLinks):
        return
    for i, trig in enumerate(plan.triggers):
        if trig.action in NETWORK_ACTIONS and trig.action != "partition":
            raise UsageError(f"{plan.source}: kill_triggers[{i}].action {trig.action}: the docker backend can only "
                             f"partition links (network disconnect); delay, bandwidth, blackhole and reset need "
                             f"the fault proxy (the reference shop, or `links` in a services file).")


def with_links(backend: Any, supervisor: Any = None, services_file: str | Path | None = None,
               data_dir: str | Path | None = None, echo: Any = None) -> tuple[Any, Any]:
    """`backend` able to fault links, and the proxy this started (or None), for a plan that has
    network actions. Raises UsageError when no links are known where the shop runs."""
    if getattr(backend, "kind", None) == "docker":
        return LinkedBackend(backend, DockerLinks(backend)), None
    supervisor = supervisor or getattr(backend, "supervisor", None)
    state_dir = getattr(supervisor, "state_dir", None) or data_dir
    if state_dir is not None:
        for where in (Path(state_dir) / LINKS_FILE, Path(state_dir).parent / LINKS_FILE):
            links = ProxyLinks.from_file(where)
            if links is not None:
                return LinkedBackend(backend, links), None
    specs = links_of_services_file(services_file) if services_file is not None else []
    if not specs:
        raise UsageError("network faults (delay, partition, blackhole, reset, bandwidth) need links: run the "
                         "reference shop (shopbench starts it with links), or list `links` in the services file "
                         "(see docs/network-faults.md).")
    key = str(Path(services_file).resolve())  # type: ignore[arg-type]
    proxy = _started.get(key)
    if proxy is None or proxy.proc.poll() is not None or proxy.links.keys() != {s.name for s in specs}:
        # One proxy per services file for the life of shopbench (it exits with us): a second run in
        # the same command (--repeat) finds its fixed listen ports taken by the first otherwise.
        proxy = _started[key] = start_links(specs)
    else:
        proxy.clear()
    if echo is not None:
        for spec in specs:
            echo(f"link {spec.name}: 127.0.0.1:{proxy.port(spec.name)} -> {spec.upstream[0]}:{spec.upstream[1]}")
    return LinkedBackend(backend, ProxyLinks(proxy.address[1], proxy.links, proxy=proxy)), proxy


_started: dict[str, Any] = {}


def start_links(specs: list[LinkSpec]) -> Any:
    from shopbench.nemesis.proxy import LinkProxy, ProxyError

    try:
        return LinkProxy.start({s.name: s.upstream for s in specs}, {s.name: s.listen for s in specs})
    except ProxyError as exc:
        raise TargetError(f"cannot start the fault proxy for the links {', '.join(s.name for s in specs)}: "
                          f"{exc}") from None
