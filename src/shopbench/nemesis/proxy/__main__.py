"""`python -m shopbench.nemesis.proxy`: the fault proxy's process (started by `LinkProxy.start`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from shopbench.configfile import parse_hostport
from shopbench.nemesis.proxy.control import ProxyServer


def parse_link_arg(text: str) -> tuple[str, tuple[str, int], int]:
    """NAME=LISTEN_PORT=HOST:PORT (LISTEN_PORT 0: any free port)."""
    name, listen, upstream = text.rsplit("=", 2)
    return name, parse_hostport(upstream), int(listen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shopbench.nemesis.proxy",
                                     description="shopbench's TCP fault proxy (see shopbench.nemesis.proxy).")
    parser.add_argument("--link", action="append", default=[], metavar="NAME=LISTEN_PORT=HOST:PORT")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    parser.add_argument("--http", action="store_true", help="frame HTTP/1.x on every link (request positions)")
    args = parser.parse_args(argv)
    try:
        specs = [parse_link_arg(a) for a in args.link]
    except ValueError:
        parser.error("--link must be NAME=LISTEN_PORT=HOST:PORT")
    with contextlib.suppress(ImportError):  # optional, as for refshop: a cheaper event loop when installed
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(ProxyServer(http=args.http).serve(specs, args.control_port, args.exit_on_stdin_eof))
    except OSError as exc:
        sys.stderr.write(f"fault proxy: {exc}\n")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
