"""`python -m refshop SERVICE ...`: run one service of the reference shop in this process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from refshop import FLAWS, SERVICES

FLAW_HELP = {
    "lost-update": "stock subtract/reserve and payment pay/charge read, yield, then write (no atomicity)",
    "no-compensation": "the order service does not release reserved stock when payment rejects",
    "no-recovery": "the order service forgets unfinished checkouts (no recovery on start, no background loop)",
    "double-charge": "the payment service does not de-duplicate saga charges by txid, so the order service's "
                     "retry of a charge whose answer was lost charges the user again",
    "early-ack": "the order service answers a checkout 2xx as soon as it starts, before its effects are "
                 "durable, and keeps the saga in memory only: a kill loses acknowledged sales",
    "oversell": "the order service checks stock first and the stock service then subtracts it without a "
                "reservation check: concurrent checkouts sell more than there is",
    "abort-on-timeout": "the order service takes a stock reserve that got no answer (timeout, reset) as rejected and "
                        "never releases it: a reserve whose answer was lost keeps its stock subtracted for no sale",
    "retry-new-txid": "the order service retries a charge that got no answer under a new txid, so the payment "
                      "service cannot recognise the retry: a charge whose answer was lost is charged again",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="refshop",
        description="Run one service of the reference shop (see docs/shop-api.md in the shopbench repository). "
                    "Logs go to stderr; SIGTERM shuts down gracefully.",
        epilog="flaws (known-bad modes, default none): "
               + "; ".join(f"{name}: {text}" for name, text in FLAW_HELP.items()),
    )
    parser.add_argument("service", choices=SERVICES, help="which service to run")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--db", required=True, help="SQLite database file of this service (created if missing)")
    parser.add_argument("--flaw", action="append", default=[], metavar="NAME",
                        help=f"enable a known-bad mode: {', '.join(FLAWS)} (repeatable; each service applies "
                             "what concerns it)")
    parser.add_argument("--stock-url", help="order only: base URL of the stock service")
    parser.add_argument("--payment-url", help="order only: base URL of the payment service")
    parser.add_argument("--checkout-timeout", type=float, default=5.0, metavar="SECONDS",
                        help="order only: answer 503 (indeterminate) if a checkout is not decided within this "
                             "time; it is then finished in the background (default 5)")
    parser.add_argument("--step-delay", type=float, default=0.0, metavar="SECONDS",
                        help="order only, test aid: sleep this long between the stock and the payment step of "
                             "every checkout, to widen the window in which a crash leaves a saga unfinished")
    parser.add_argument("--attempt-timeout", type=float, default=2.0, metavar="SECONDS",
                        help="order only: how long one try of a saga step may take before it is retried (default 2)")
    parser.add_argument("--reply-delay", type=float, default=0.0, metavar="SECONDS",
                        help="payment only, test aid: answer the first request of each saga charge this long after "
                             "it is committed (a slow or lost answer), so the order service retries it")
    args = parser.parse_args(argv)
    flaws = set()
    for value in args.flaw:
        for name in filter(None, (v.strip() for v in value.split(","))):
            if name not in FLAWS:
                parser.error(f"unknown flaw {name!r}; valid flaws are: {', '.join(FLAWS)}")
            flaws.add(name)
    args.flaws = flaws
    if not 0 < args.port < 65536:
        parser.error(f"--port must be between 1 and 65535, got {args.port}")
    if args.service == "order":
        for opt in ("stock_url", "payment_url"):
            if not getattr(args, opt):
                parser.error(f"the order service needs --{opt.replace('_', '-')}")
        if not args.checkout_timeout > 0:
            parser.error("--checkout-timeout must be a positive number of seconds")
        if not args.step_delay >= 0:
            parser.error("--step-delay must be a non-negative number of seconds")
        if not args.attempt_timeout > 0:
            parser.error("--attempt-timeout must be a positive number of seconds")
    if not args.reply_delay >= 0:
        parser.error("--reply-delay must be a non-negative number of seconds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format=f"%(asctime)s {args.service} %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("refshop")
    try:  # optional: a faster event loop when installed
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        loop_name = "uvloop"
    except ImportError:
        loop_name = "asyncio"

    from aiohttp import web

    if args.service == "stock":
        from refshop.stock import build_app
    elif args.service == "payment":
        from refshop.payment import build_app
    else:
        from refshop.order import build_app
    try:
        app = build_app(args)
    except Exception as exc:  # e.g. the database file cannot be opened
        log.error("cannot start %s: %s", args.service, exc)
        return 3
    log.info("refshop %s on http://%s:%d (db %s, flaws %s, %s)", args.service, args.host, args.port, args.db,
             ",".join(sorted(args.flaws)) or "none", loop_name)
    try:
        # A backlog for seed 000's 1,000 simultaneous clients (aiohttp's default is 128): a full accept
        # queue drops SYNs, and each drop costs its client a one-second retransmit.
        web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, shutdown_timeout=2.0,
                    handle_signals=True, backlog=1024)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 3
    log.info("refshop %s stopped", args.service)
    return 0


if __name__ == "__main__":
    sys.exit(main())
