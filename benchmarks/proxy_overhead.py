"""What the fault proxy costs with no toxic: the same load on the direct link and through the proxy.

    .venv/bin/python benchmarks/proxy_overhead.py [--rate 2000] [--seconds 0.25] [--rounds 16] [--connections 16]
                                                  [--http]   # with request positions (HTTP framing) on

A small aiohttp server (its own process) answers `GET /`; the proxy (`shopbench.nemesis.proxy`,
its own process, as in a run) forwards a link to it. The client (this process, asyncio, raw
HTTP/1.1 on kept-alive connections) sends `--rate` requests/s spread over `--connections`,
alternating short direct and proxied rounds so both see the same machine (on a shared 2-core box
other processes come and go; the added latency is also given as the median of the per-round
differences, which such noise moves least). Then, as a second figure, each link's closed-loop
maximum (every connection sends its next request as soon as the last one answered).

Prints, in one run: the p50 and p99 latency of each link and the added p50 (target <= 0.3 ms),
and the throughput through the proxy as a fraction of the direct one at the offered rate (target
>= 0.8x), plus the closed-loop ratio. Exit code 0 when both targets hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing

import psutil  # noqa: E402

from shopbench.nemesis.proxy import LinkProxy  # noqa: E402
from shopbench.processes import free_port  # noqa: E402

TARGET_ADDED_P50_MS, TARGET_RATIO = 0.3, 0.8

SERVER = """
import sys
from aiohttp import web
async def hello(request):
    return web.Response(body=b'{"status": "ok"}', content_type="application/json")
app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


async def _one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)


async def _paced(port: int, rate: float, seconds: float, connections: int) -> tuple[list[float], float]:
    """Open-loop-ish: each connection sends at its share of `rate`; returns latencies (s), achieved rps."""
    latencies: list[float] = []
    interval = connections / rate
    start = time.perf_counter() + 0.05
    end = start + seconds

    async def worker(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        due = start + k * interval / connections  # staggered, so requests arrive evenly
        while due < end:
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            t0 = time.perf_counter()
            await _one(reader, writer)
            latencies.append(time.perf_counter() - t0)
            due += interval
        writer.close()

    await asyncio.gather(*(worker(k) for k in range(connections)))
    # Over the schedule's own span, not the connecting before it.
    return latencies, len(latencies) / max(time.perf_counter() - start, 1e-9)


async def _closed(port: int, seconds: float, connections: int) -> float:
    done = 0
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < end:
            await _one(reader, writer)
            done += 1
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return done / (time.perf_counter() - t0)


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=0.25, help="per round and link")
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--http", action="store_true", help="the proxy frames HTTP/1.x (request positions on)")
    args = parser.parse_args()
    try:  # the client keeps its pace better on a busy machine with the cheaper loop, when installed
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass

    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                asyncio.run(_closed(port, 0.05, 1))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        with LinkProxy.start({"client->server": ("127.0.0.1", port)}, http=args.http) as proxy:
            via_port = proxy.port("client->server")
            lat: dict[str, list[float]] = {"direct": [], "proxy": []}
            rps: dict[str, list[float]] = {"direct": [], "proxy": []}
            asyncio.run(_paced(via_port, args.rate, 0.3, args.connections))  # warm both paths
            asyncio.run(_paced(port, args.rate, 0.3, args.connections))
            paired: list[float] = []
            proxy_proc = psutil.Process(proxy.pid)
            cpu0 = sum(proxy_proc.cpu_times()[:2])
            for i in range(args.rounds):
                order = (("direct", port), ("proxy", via_port))
                p50s = {}
                for name, p in order if i % 2 == 0 else order[::-1]:
                    values, achieved = asyncio.run(_paced(p, args.rate, args.seconds, args.connections))
                    lat[name] += values
                    rps[name].append(achieved)
                    p50s[name] = _pct(values, 0.5)
                paired.append(p50s["proxy"] - p50s["direct"])
            cpu_per_request = (sum(proxy_proc.cpu_times()[:2]) - cpu0) / max(1, len(lat["proxy"]))
            closed = {name: asyncio.run(_closed(p, 1.0, args.connections))
                      for name, p in (("direct", port), ("proxy", via_port))}
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"offered {args.rate:g} requests/s over {args.connections} kept-alive connections, "
          f"{args.rounds} x {args.seconds:g} s per link")
    for name in ("direct", "proxy"):
        print(f"  {name:6s}  p50 {_pct(lat[name], 0.5):6.3f} ms   p99 {_pct(lat[name], 0.99):6.3f} ms   "
              f"{statistics.mean(rps[name]):7.0f} req/s   (closed loop max {closed[name]:7.0f} req/s)")
    added = _pct(lat["proxy"], 0.5) - _pct(lat["direct"], 0.5)
    added_paired = statistics.median(paired)
    ratio = statistics.mean(rps["proxy"]) / statistics.mean(rps["direct"])
    closed_ratio = closed["proxy"] / closed["direct"]
    ok = added <= TARGET_ADDED_P50_MS and ratio >= TARGET_RATIO
    print(f"added p50 latency: {added:.3f} ms (target <= {TARGET_ADDED_P50_MS} ms); "
          f"median of per-round differences {added_paired:.3f} ms")
    print(f"throughput through the proxy: {ratio:.2f}x direct at the offered rate (target >= {TARGET_RATIO}x); "
          f"closed loop: {closed_ratio:.2f}x")
    print(f"proxy CPU per proxied request: {cpu_per_request * 1e6:.0f} us (user+system; what it costs whatever "
          f"else runs on the machine)")
    print(f"machine load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
