"""shopbench's defaults for Locust's own options and its one option of its own, through Locust's
`init_command_line_parser` event (so every spelling Locust accepts, config files and LOCUST_*
environment variables included, still overrides them):

  --web-host            127.0.0.1: a load generator's control panel is not opened to the network
                        unasked (Locust's default is every interface); `--web-host '*'` restores it.
                        Locust's --web-login and its auth options pass through unchanged.
  --stop-timeout        the request timeout (or the session's `stop_timeout`: a gRPC flow of several
                        calls): iterations in flight get to finish, so the history ends with
                        answered operations (what is still cut off is recorded as info)
  --only-summary        headless: our live line replaces Locust's periodic tables (not with
                        --print-stats)
  --shopbench-generators  open model: how many generator users share the arrival rate; set by the
                        master from -u, and sent to every worker with the spawn message (Locust
                        passes a plugin's options to its workers)

They apply to a `shopbench stress` run (a session installed); a plain `locust -f` keeps Locust's.
"""

from __future__ import annotations

from typing import Any

from shopbench.locust_plugin import session as sessions

LOOPBACK = "127.0.0.1"


def add_options(parser: Any, **_: Any) -> None:
    parser.add_argument("--shopbench-generators", type=int, default=0, include_in_web_ui=False,
                        help="(shopbench) open model: generator users sharing the arrival rate")
    sess = sessions.installed()
    if sess is None:
        return
    stop_timeout = sess.stop_timeout if sess.stop_timeout is not None else sess.config.timeout
    parser.set_defaults(web_host=LOOPBACK, stop_timeout=str(int(stop_timeout)), only_summary=True)


def settle_options(environment: Any, runner: Any) -> None:
    """After parsing, on the master or the local process: the open model's generator count."""
    opts = environment.parsed_options
    sess = sessions.installed()
    if opts is None or sess is None:
        return
    if getattr(opts, "print_stats", False):
        opts.only_summary = False  # our default gives way to an explicit --print-stats
    if not sess.config.arrival_rate:
        return
    if opts.num_users is None:
        # One generator per worker process (or one), started at once.
        n = max(1, int(getattr(opts, "expect_workers", 0) or 0) if getattr(opts, "master", False) else 1)
        opts.num_users, opts.spawn_rate = n, float(n)
    opts.shopbench_generators = int(opts.num_users)
    sess.config.generators = int(opts.num_users)


def generators(environment: Any, fallback: int) -> int:
    """The generator count as the master decided it (workers learn it with the spawn message)."""
    opts = environment.parsed_options
    n = int(getattr(opts, "shopbench_generators", 0) or 0) if opts is not None else 0
    return n or max(1, fallback)
