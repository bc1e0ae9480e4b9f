"""Network faults: actions on named links (`order->payment`), through the fault proxy or Docker.

Actions (kill_config.json triggers with `"links": [...]` instead of `"services"`):

  delay      every request through the link waits `ms` milliseconds (+- `jitter`)
  bandwidth  the link carries at most `rate` KB/s each way
  partition  the link is down: new connections are refused and existing ones reset
  blackhole  the link swallows bytes: connections are accepted and never answered, existing
             ones stall (the slow failure a partition looks like without a RST)
  reset      existing connections are reset, and new ones are reset as soon as they open

Each is held for its `duration` (or `recovery_time`; none: until the run ends) and then undone
("heal"); each is verified after it is applied, against probes through the same link before it
(nemesis/linkcheck.py): what cannot be measured is `unverified`, and the run UNKNOWN.

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

import itertools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shopbench.configfile import parse_hostport, validate
from shopbench.errors import ShopbenchError, TargetError, UsageError
from shopbench.nemesis.linkcheck import baseline, verify, verify_healed

NETWORK_ACTIONS = ("delay", "partition", "blackhole", "reset", "bandwidth")
LINK_RE = re.compile(r"[A-Za-z0-9_.\-]+->[A-Za-z0-9_.\-]+")
LINKS_FILE = "links.json"
ARROWS = ("->", "→", "↛")

# The stream(s) each action's toxics go on. A fault adds one named toxic per stream and its heal
# removes exactly those (Toxiproxy's model), so overlapping faults on one link, of one kind or of
# several, end independently.
ACTION_STREAMS = {
    "delay": ("upstream",),  # the request waits: a round trip gains `ms` once
    "bandwidth": ("upstream", "downstream"),  # at most `rate` each way
    "partition": ("both",),
    "blackhole": ("both",),
    "reset": ("both",),
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
    return {action if action != "partition" else "down": True}


# -- the services file's `links` --------------------------------------------------------------------
@dataclass(frozen=True)
class LinkSpec:
    name: str
    upstream: tuple[str, int]
    listen: int = 0  # 0: any free port (printed when the proxy starts)


class LinkEntry(BaseModel):
    """One link of a services file's `links` table (each description finishes "it must be ...")."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="the link's name, SOURCE->TARGET, e.g. order->payment")
    upstream: str = Field(description="HOST:PORT of the service the link leads to, e.g. 127.0.0.1:8002")
    listen: int = Field(0, ge=0, lt=65536, strict=True, description="a port number (0: any free port)")

    @field_validator("upstream", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str:
        try:
            parse_hostport(value)
        except ValueError:
            raise ValueError("HOST:PORT") from None  # the description says the rest
        return str(value)


LINKS_SHAPE = '{"order->payment": {"upstream": "127.0.0.1:8002", "listen": 18002}}'


def parse_links(data: Any, source: str) -> list[LinkSpec]:
    """The `links` field of a services file: {"a->b": {"upstream": "host:port", "listen": port}}
    (or {"a->b": "host:port"}), or a list of {"name", "upstream", "listen"}; each entry checked
    through the one validation path (configfile.validate). Bad input: one UsageError naming the
    file and the field."""
    if data is None:
        return []
    if isinstance(data, list):  # the list form, keyed by its names
        for i, e in enumerate(data):
            if not isinstance(e, dict) or not e.get("name"):
                raise UsageError(f"{source}: links[{i}] must be an object with name, upstream (and listen), "
                                 f"or write links as an object like {LINKS_SHAPE}.")
        data = {str(e["name"]): e for e in data}
    if not isinstance(data, dict):
        raise UsageError(f"{source}: field links must be an object like {LINKS_SHAPE}.")
    out: list[LinkSpec] = []
    for key, body in data.items():
        where = f"{source}: links.{key}"
        entry = validate(LinkEntry, body if isinstance(body, dict) else {"upstream": body}, where)
        try:
            name = canonical_link(key)
        except UsageError as exc:
            raise UsageError(f"{where}: {exc}") from None
        if any(s.name == name for s in out):
            raise UsageError(f"{where}: link {name!r} appears twice.")
        out.append(LinkSpec(name, parse_hostport(entry.upstream), entry.listen))
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


# -- backends ---------------------------------------------------------------------------------------
class ProxyLinks:
    """Link faults through a running fault proxy (its control port and its links)."""

    kind = "proxy"

    def __init__(self, control: int, links: Mapping[str, Mapping[str, Any]], proxy: Any = None):
        from shopbench.nemesis.proxy import ProxyClient

        self.client = proxy if proxy is not None else ProxyClient(control)
        self.links = {name: dict(info) for name, info in links.items()}
        self._seq = itertools.count(1)

    @classmethod
    def from_file(cls, path: str | Path) -> ProxyLinks | None:
        data = read_links_file(path)
        if not data:
            return None
        return cls(int(data["control"]), data["links"])

    def names(self) -> list[str]:
        return sorted(self.links)

    def apply(self, action: str, link: str, trigger: Any) -> Any:
        from shopbench.nemesis.backends.base import OK

        port = int(self.links[link]["port"])
        base = baseline(action, port)  # through the same link, before the fault
        t0 = time.time()
        # Named per fault and stream, e.g. "delay-3/upstream": this fault's heal removes these alone.
        seq = next(self._seq)
        names = [f"{action}-{seq}/{stream}" for stream in ACTION_STREAMS[action]]
        for name, stream in zip(names, ACTION_STREAMS[action], strict=True):
            self.client.add_toxic(link, name, stream, **toxics_for(action, trigger))
        landing = verify(action, trigger, port, base)
        hit = _hit(f"link {link} 127.0.0.1:{port}", OK, link, landing.landed, landing.evidence, time.time() - t0)
        hit.toxics = names  # type: ignore[attr-defined]
        hit.extra.update(toxics=names, verification=landing.state)  # type: ignore[attr-defined]
        return hit

    def recover(self, action: str, link: str, hits: list[Any] | None = None) -> Any:
        from shopbench.nemesis.backends.base import OK

        names = [n for h in hits or [] for n in getattr(h, "toxics", None) or []]
        for name in names:
            self.client.remove_toxic(link, name)
        port = int(self.links[link]["port"])
        healed, evidence = verify_healed(port, names, self.client.state().get(link, {}))
        hit = _hit(f"link {link} 127.0.0.1:{port}", OK, link, healed, evidence)
        hit.extra = {"link": link, "healed": healed, "evidence": evidence, "toxics": names}
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

    def recover(self, action: str, link: str, hits: list[Any] | None = None) -> Any:
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
            return [self.links.recover(action, service, hits)]
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
