"""What `shopbench doctor` finds, gathered once: plain data for doctor/advice.py to turn into lines.

    endpoints(driver)      each operation probed on its own (driver/contract.py `probe`): ok, missing
                           (404/405/501), broken (answers the contract cannot read), or not tried
    services(file)         each service of a services file: found (adopted or started by us), healthy
    faults(file, backend)  what cannot land (`services plan`'s warnings) and which faults overlap
    gateway(url)           how many connections the order service's front door holds (doctor/gateway.py)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shopbench.doctor.gateway import ConnectionLimit, connection_limit
from shopbench.driver.contract import probe

# every operation a run can send, in the order a shop's life needs them (batch_init is never probed:
# it would re-create the ids 0 … n-1 a shop may hold)
PROBED = ("create_item", "add_stock", "subtract_stock", "find_item", "create_user", "add_funds", "pay",
          "find_user", "create_order", "add_item", "remove_item", "find_order", "checkout")
BATCH = ("batch_init_stock", "batch_init_users", "batch_init_orders")
_MISSING = re.compile(r"answered (404|405|501)\b")


@dataclass
class Endpoint:
    op: str
    state: str  # "ok" | "missing" | "broken" | "not tried" | "unreachable"
    why: str = ""


def endpoints(driver: Any) -> list[Endpoint]:
    """Each operation probed alone, on an item, user and order of its own, read back where a find
    follows (shapes, types, integral amounts: driver/answers.py)."""
    out: dict[str, Endpoint] = {}
    for op in PROBED:
        problems = probe(driver, {op})
        mine = [p for p in problems if p.startswith((f"{op} ", f"{op}:"))]
        before = [p for p in problems if p not in mine]
        if mine:
            text = " ".join(mine)
            missing = _MISSING.search(text)
            state = "missing" if missing else "unreachable" if "got no usable answer" in text else "broken"
            out[op] = Endpoint(op, state, f"answered {missing.group(1)}: no such route" if missing else text)
        elif before:
            first = before[0].split(" ", 1)[0].rstrip(":")
            out[op] = Endpoint(op, "not tried", f"needs {first}, which failed")
        else:
            out[op] = Endpoint(op, "ok")
    for op in BATCH:
        out[op] = Endpoint(op, "not tried", "never tried: it would re-create the ids 0 … n-1 your shop may hold")
    return list(out.values())


@dataclass
class Service:
    name: str
    pid: int | None
    how: str  # "found by port 8001", "started by shopbench", or why not
    healthy: bool | None


@dataclass
class Findings:
    target: dict[str, str]
    endpoints: list[Endpoint]
    gateway: ConnectionLimit | None
    gateway_url: str
    services: list[Service] | None = None  # None: no --services-file
    services_file: str | None = None
    fault_warnings: list[str] = field(default_factory=list)
    faults_file: str | None = None
    urls_file: str = "urls.json"


def services(backend: Any) -> list[Service]:
    out = []
    for name, pid, how in backend.adopt():
        healthy = None
        if pid is not None:
            try:
                healthy = backend.supervisor.healthy(name)
            except Exception:  # noqa: BLE001 - a spec the supervisor cannot check: unknown, not unhealthy
                healthy = None
        out.append(Service(name, pid, how, healthy))
    return out


def fault_warnings(faults_file: Path, backend: Any) -> list[str]:
    from shopbench.doctor.overlaps import overlapping
    from shopbench.nemesis.config import load_fault_plan
    from shopbench.nemesis.hooks import plan_warnings

    plan = load_fault_plan(faults_file, backend=backend)
    return plan_warnings(plan, backend) + overlapping(plan)


def gateway(order_url: str) -> tuple[str, ConnectionLimit]:
    parts = urlsplit(order_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{parts.netloc}", connection_limit(parts.hostname or "127.0.0.1", port)
