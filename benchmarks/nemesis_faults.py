"""How fast the nemesis acts: trigger-to-signal delay, and trigger-to-*landed* times for kill and
pause (when the fault was verified to have taken effect, not when the signal was sent), on the
reference shop (one process per service) and on a gunicorn service with two workers.

    .venv/bin/python benchmarks/nemesis_faults.py [ROUNDS]

Prints figures; asserts nothing (speed targets live here, not in tests). Pause landed times
exclude the hang probe (a request left unanswered for 0.25 s) that follows the state check.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from shopbench.nemesis import Nemesis, make_backend, parse_fault_plan
from shopbench.processes import free_port
from shopbench.shop import RefShop

APP = textwrap.dedent('''
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
''')


def measure(backend, kill: str, pause: str, rounds: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"fire delay ms": [], "kill sent->landed ms": [], "kill landed_s ms": [],
                                       "restart-to-healthy ms": [], "pause landed_s ms": [], "resume ms": []}
    for _ in range(rounds):
        plan = parse_fault_plan({"kill_triggers": [
            {"type": "time", "threshold": 0.2, "services": [kill], "recovery_time": 0.1},
            {"type": "time", "threshold": 0.2, "services": [pause], "action": "pause", "duration": 0.1},
        ]}, backend=backend)
        with Nemesis(plan, backend) as nem:
            deadline = time.monotonic() + 30
            while len(nem.entries) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            started_wall = time.time() - nem.elapsed()
        for e in nem.entries:
            if not e.get("landed"):
                print(f"  not landed: {e['action']} {e['service']}: {e.get('evidence')}")
                continue
            if e["role"] == "fault":
                figures["fire delay ms"].append((e["start"] - started_wall - 0.2) * 1000)
                if e["action"] == "kill":
                    figures["kill landed_s ms"].append(e["landed_s"] * 1000)
                    figures["kill sent->landed ms"].append((e["end"] - e["start"]) * 1000)
                else:
                    figures["pause landed_s ms"].append(e["landed_s"] * 1000)
            else:
                figures["restart-to-healthy ms" if e["action"] == "start" else "resume ms"].append(
                    (e["end"] - e["start"]) * 1000)
    return figures


def show(title: str, figures: dict[str, list[float]]) -> None:
    print(title)
    for name, values in figures.items():
        if values:
            print(f"{name:>24}: median {statistics.median(values):7.1f}  max {max(values):7.1f}  (n={len(values)})")


def main(rounds: int = 5) -> None:
    with RefShop(tempfile.mkdtemp(prefix="nemesis-bench-")) as shop:
        backend = make_backend("local", supervisor=shop.supervisor)
        show("reference shop (one process per service)", measure(backend, "stock", "payment", rounds))

    folder = Path(tempfile.mkdtemp(prefix="nemesis-bench-gunicorn-"))
    (folder / "app.py").write_text(APP)
    ports = [free_port(), free_port()]
    services = "".join(f'''
[services.web{i}]
command = "{sys.executable} -m gunicorn -w 2 -b 127.0.0.1:{port} app:app"
health_url = "http://127.0.0.1:{port}/"
''' for i, port in enumerate(ports))
    (folder / "services.toml").write_text(services)
    backend = make_backend("local", services_file=folder / "services.toml")
    try:
        for name in ("web0", "web1"):
            backend.start(name)
        time.sleep(1.0)  # gunicorn forks its workers after it binds: let the trees be whole
        show("gunicorn -w 2 (master + 2 workers, whole tree)", measure(backend, "web0", "web1", rounds))
    finally:
        for name in ("web0", "web1"):
            backend.supervisor.ensure_running(name)
            backend.stop(name)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
