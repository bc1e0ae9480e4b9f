"""Start the WDM course shop (tests/apps/wdmshop/app.py) as a user runs it: one gunicorn per service
with two sync workers, behind an nginx gateway on a free loopback port. Everything is started in its
own process group and ended by that group's id; nginx's configuration, logs and temp files live in
a temporary folder the caller owns.

    with GatewayShop(tmp_path) as shop:      # shop.urls_file, shop.services_file, shop.gateway_url
        ...

`nginx_binary()` is None when nginx is not installed (tests skip with that reason).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from shopbench.processes import free_ports

APP_DIR = Path(__file__).resolve().parent / "wdmshop"
SERVICES = ("order", "stock", "payment")
# nginx's own default (its events block without worker_connections): what a user's untuned gateway has.
DEFAULT_WORKER_CONNECTIONS = 512

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;
    upstream order {{ server 127.0.0.1:{order}; }}
    upstream stock {{ server 127.0.0.1:{stock}; }}
    upstream payment {{ server 127.0.0.1:{payment}; }}
    server {{
        listen 127.0.0.1:{gateway};
        location /orders/ {{ proxy_pass http://order; }}
        location /stock/ {{ proxy_pass http://stock; }}
        location /payment/ {{ proxy_pass http://payment; }}
        location / {{ return 404; }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                          if os.access(p, os.X_OK)), None)


class GatewayShop:
    def __init__(self, folder: Path, worker_connections: int = DEFAULT_WORKER_CONNECTIONS, workers: int = 2):
        self.folder = Path(folder)
        self.worker_connections = worker_connections
        self.workers = workers
        ports = free_ports(4)
        self.ports = dict(zip(SERVICES, ports[:3], strict=True))
        self.gateway_port = ports[3]
        self.gateway_url = f"http://127.0.0.1:{self.gateway_port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls_file = self.folder / "urls.json"
        self.services_file = self.folder / "services.json"
        self.error_log = self.folder / "nginx" / "error.log"
        self.access_log = self.folder / "nginx" / "access.log"  # every request the shop was sent

    def gunicorn_command(self, service: str) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-b", f"127.0.0.1:{self.ports[service]}",
                "--graceful-timeout", "2", "--chdir", str(APP_DIR), "app:app"]

    def env(self, service: str) -> dict[str, str]:
        return {"SERVICE": service, "DB": str(self.folder / f"{service}.db"),
                "STOCK_URL": f"http://127.0.0.1:{self.ports['stock']}",
                "PAYMENT_URL": f"http://127.0.0.1:{self.ports['payment']}"}

    def __enter__(self) -> GatewayShop:
        nginx = nginx_binary()
        if nginx is None:
            raise RuntimeError("nginx is not installed")
        self.folder.mkdir(parents=True, exist_ok=True)
        conf_dir = self.folder / "nginx"
        (conf_dir / "tmp").mkdir(parents=True, exist_ok=True)
        conf = conf_dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(folder=conf_dir, worker_connections=self.worker_connections,
                                          gateway=self.gateway_port, **self.ports))
        self.urls_file.write_text(json.dumps({f"{s.upper()}_URL": self.gateway_url
                                              for s in ("order", "payment", "stock")}))
        # How a user describes these services to shopbench: the command and the port (to adopt them).
        self.services_file.write_text(json.dumps({"services": [
            {"name": s, "command": self.gunicorn_command(s), "env": self.env(s), "port": self.ports[s]}
            for s in SERVICES]}, indent=2))
        try:
            for service in SERVICES:
                self.procs[service] = subprocess.Popen(
                    self.gunicorn_command(service), env={**os.environ, **self.env(service)},
                    stdout=subprocess.DEVNULL, stderr=open(self.folder / f"{service}.log", "wb"),
                    start_new_session=True)
            self.procs["nginx"] = subprocess.Popen(
                [nginx, "-p", str(conf_dir), "-c", str(conf), "-e", str(self.error_log)],
                stdout=subprocess.DEVNULL, stderr=open(conf_dir / "stderr.log", "wb"), start_new_session=True)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float = 30.0) -> None:
        """Every service answers through the gateway (a 4xx for an unknown entity is an answer), and each
        gunicorn master has all its workers (the first one answers while the others may still boot)."""
        deadline = time.monotonic() + timeout
        probes = ["/stock/find/none", "/payment/find_user/none", "/orders/find/none"]
        while probes or not self._all_workers():
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while starting; see {self.folder}")
            try:
                if probes:
                    urllib.request.urlopen(self.gateway_url + probes[0], timeout=2)
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    probes.pop(0)
                    continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                what = f"answer {probes[0]}" if probes else f"start {self.workers} workers per service"
                raise RuntimeError(f"the gateway shop did not {what} within {timeout:g} s")
            time.sleep(0.05)

    def _all_workers(self) -> bool:
        try:
            return all(len(psutil.Process(self.procs[s].pid).children()) >= self.workers for s in SERVICES)
        except psutil.Error:
            return False

    def stop(self) -> None:
        if self.services_file.exists():
            # A fault's restart started a new gunicorn through the services file (its state lives
            # beside the file): it is ours to end too, by the pid shopbench recorded.
            from shopbench.nemesis.backends import make_backend

            backend = make_backend("local", services_file=self.services_file)
            for service in SERVICES:
                backend.stop(service)
        for proc in self.procs.values():  # each leads its own group: the gunicorn master and its workers
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()
