"""The doctor's findings as what to do: which runs are possible, with the exact flags for the ones
that need some, and the command lines to run next. Pure: findings in, sentences out."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from shopbench.doctor.examine import Findings
from shopbench.doctor.needs import CHECK_OPS, OPTIONAL, endpoint, possible

STRESS_USERS = 50  # a first stress run: enough to race, few enough to read


@dataclass
class Run:
    name: str
    ok: bool | None  # None: it needs what doctor does not try
    flags: list[str]  # what makes it possible
    why: str  # why not, when not ok


def runs(findings: Findings) -> list[Run]:
    bad = {e.op for e in findings.endpoints if e.state != "ok"}
    untried = {e.op for e in findings.endpoints if e.state == "not tried" and e.op.startswith("batch_init")}
    out = []
    for name, needs in possible(bad).items():
        if not needs:
            out.append(Run(name, True, [], ""))
            continue
        if set(needs) <= untried and name.startswith("stress"):
            out.append(Run(name, None, [], "uses batch_init, which doctor never tries (it would re-create the "
                                            "ids 0 … n-1 your shop may hold): try it on a fresh shop"))
            continue
        optional = [op for op in needs if op in OPTIONAL]
        core = [op for op in needs if op not in OPTIONAL]
        is_stress = name.startswith("stress")
        if not core and is_stress:
            out.append(Run(name, True, [f"--without {','.join(optional)}"], ""))
        else:
            out.append(Run(name, False, [], "needs " + ", ".join(f"{op} ({endpoint(op)})" for op in core or needs)
                           + ": plug in a --driver that maps it to your route"))
    return out


def concurrency(findings: Findings) -> int | None:
    return findings.gateway.safe_concurrency() if findings.gateway is not None else None


def commands(findings: Findings) -> list[str]:
    """The command lines to run next, most useful first; empty when the shop cannot be tested yet."""
    by_name = {r.name: r for r in runs(findings)}
    reads_ok = by_name[next(iter(CHECK_OPS))].ok
    if not reads_ok:
        return []
    urls = ["--urls", findings.urls_file]
    faults: list[str] = []
    if findings.faults_file:
        faults = ["--faults", findings.faults_file]
        if findings.services_file:
            faults += ["--services-file", findings.services_file]
    out = []
    safe = concurrency(findings)
    if by_name["consistency burst"].ok:
        cmd = ["shopbench", "consistency", *urls]
        if safe is not None and safe < 1000:
            cmd += ["--concurrency", str(safe)]
        out.append(shlex.join(cmd + faults))
    stress = by_name["stress --mix seed000"]
    if stress.ok:
        users = min(STRESS_USERS, safe) if safe is not None else STRESS_USERS
        cmd = ["shopbench", "stress", *urls, "--headless", "-u", str(users), "-r", str(min(users, 10)), "-t", "60s"]
        out.append(shlex.join(cmd + [f for flag in stress.flags for f in flag.split(" ", 1)] + faults))
    return out
