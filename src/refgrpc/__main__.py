"""`python -m refgrpc --port N --data DIR [--flaw …] [--token-ttl S] [--users-file .env] [--protos DIR]`.

`--protos DIR` serves another folder of seed 004's protos (`pb/*.proto`), e.g. the seed's own
without the reference's optional extras (`version`, `expires_in`): the tests' "exact seed API".

Users come from a `.env`-style file (USER_n_EMAIL / USER_n_PASSWORD lines) or `--user EMAIL:PASSWORD`
(visible in `ps`: prefer the file). Passwords are stored salted and hashed, never logged.
`--health-port` adds a plain HTTP `/health` for process supervisors that probe over HTTP; gRPC
clients use the standard `grpc.health.v1.Health` service on the main port.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from refgrpc import FLAWS

FLAW_HELP = {
    "no-auth": "no auth interceptor: every RPC runs without a token (seed 004's finding)",
    "stale-read": "GetVacancy answers from a cache filled at creation and never invalidated",
    "lost-delete": "DeleteVacancy acknowledges but keeps the vacancy",
}
USER_KEY = re.compile(r"^USER_(\d+)_(EMAIL|PASSWORD)$")


def read_users_file(path: Path) -> list[tuple[str, str]]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    users = []
    for key in sorted(values, key=lambda k: int(m.group(1)) if (m := USER_KEY.match(k)) else -1):
        m = USER_KEY.match(key)
        if m and m.group(2) == "EMAIL" and f"USER_{m.group(1)}_PASSWORD" in values:
            users.append((values[key], values[f"USER_{m.group(1)}_PASSWORD"]))
    return users


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="refgrpc", description="The reference gRPC vacancy service with auth (seed 004's API, package pb).",
        epilog="flaws: " + "; ".join(f"{k}: {v}" for k, v in FLAW_HELP.items()))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--data", required=True, help="directory of the SQLite database and token key")
    parser.add_argument("--flaw", action="append", default=[], metavar="NAME", help=f"one of {', '.join(FLAWS)}")
    parser.add_argument("--token-ttl", type=float, default=900.0, metavar="S", help="access token lifetime")
    parser.add_argument("--refresh-ttl", type=float, default=86400.0, metavar="S")
    parser.add_argument("--users-file", help=".env-style file of USER_n_EMAIL / USER_n_PASSWORD")
    parser.add_argument("--user", action="append", default=[], metavar="EMAIL:PASSWORD")
    parser.add_argument("--health-port", type=int, help="also answer HTTP GET /health on this port")
    parser.add_argument("--workers", type=int, default=16, help="server threads")
    parser.add_argument("--protos", help="folder of the service's .proto files (default: the ones shipped)")
    args = parser.parse_args(argv)
    args.flaws = set()
    for value in args.flaw:
        for name in filter(None, (v.strip() for v in value.split(","))):
            if name not in FLAWS:
                parser.error(f"unknown flaw {name!r}; valid flaws are: {', '.join(FLAWS)}")
            args.flaws.add(name)
    if not args.token_ttl > 0:
        parser.error("--token-ttl must be > 0 seconds")
    return args


def serve_health(host: str, port: int, ready: threading.Event) -> ThreadingHTTPServer:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            ok = self.path == "/health" and ready.is_set()
            self.send_response(200 if ok else 503)
            self.end_headers()
            self.wfile.write(b"ok" if ok else b"starting")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((host, port), Health)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s refgrpc %(levelname)s %(message)s")
    from refgrpc.server import build_server
    from refgrpc.store import Store
    from refgrpc.stubs import PROTOS, compile_protos
    from refgrpc.tokens import Tokens

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    store = Store(data / "vacancies.db")
    users = read_users_file(Path(args.users_file)) if args.users_file else []
    for spec in args.user:
        email, sep, password = spec.partition(":")
        if not sep:
            print("refgrpc: --user takes EMAIL:PASSWORD", file=sys.stderr)
            return 2
        users.append((email, password))
    for email, password in users:
        store.put_user(email, password)
    tokens = Tokens(data / "token.key", args.token_ttl, args.refresh_ttl)
    ready = threading.Event()
    if args.health_port:
        serve_health(args.host, args.health_port, ready)
    protos = compile_protos(Path(args.protos) if args.protos else PROTOS)
    server = build_server(protos, store, tokens, args.flaws, args.host, args.port, args.workers)
    server.start()
    ready.set()
    logging.info("listening on %s:%d (%d users, flaws: %s)", args.host, args.port, len(users),
                 ", ".join(sorted(args.flaws)) or "none")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
