"""Load-generator overhead: shopbench's driver with history recording vs. a plain Locust FastHttpUser.

    .venv/bin/python benchmarks/generator_overhead.py [--seconds 10] [--users 20]

Starts a tiny keep-alive HTTP server (raw asyncio, in a subprocess, on a free loopback port) that
answers every request with a small JSON body, then runs, one after the other and each in one Locust
process for the same duration and user count:

  plain      a `FastHttpUser` issuing `GET /stock/find/1` in a loop (no wait)
  shopbench  a `ShopUser` issuing the same request through `driver.find_item("1")`, with every
             operation serialised into the history (ops.jsonl) and fired as a Locust request

and prints both throughputs (Locust's final request count over its first-to-last-request span)
and the ratio. Target: shopbench >= 0.9 x plain. Exit code 0 when the target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.9

SERVER = textwrap.dedent("""
    import asyncio, sys
    BODY = b'{"stock": 1, "price": 1}'
    RESP = (b"HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\nContent-Length: "
            + str(len(BODY)).encode() + b"\\r\\n\\r\\n" + BODY)

    class Http(asyncio.Protocol):
        def connection_made(self, transport):
            self.t, self.buf = transport, b""
        def data_received(self, data):
            self.buf += data
            n = self.buf.count(b"\\r\\n\\r\\n")  # bodiless requests: one header block each
            if n:
                self.buf = self.buf[self.buf.rfind(b"\\r\\n\\r\\n") + 4:]
                self.t.write(RESP * n)

    async def main():
        server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", int(sys.argv[1]), backlog=1024)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()
    asyncio.run(main())
""")

PLAIN = textwrap.dedent("""
    from locust import task, constant
    from locust.contrib.fasthttp import FastHttpUser

    class Plain(FastHttpUser):
        wait_time = constant(0)

        @task
        def find(self):
            self.client.get("/stock/find/1", name="find_item")
""")

SHOPBENCH = textwrap.dedent("""
    from locust import task, constant
    from shopbench import ShopUser

    class Shop(ShopUser):
        wait_time = constant(0)

        @task
        def find(self):
            self.driver.find_item("1")
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_locust(name: str, source: str, host: str, users: int, seconds: int, work: Path,
               env: dict[str, str]) -> tuple[float, int]:
    locustfile = work / f"{name}.py"
    locustfile.write_text(source)
    stats = work / f"{name}_stats"
    cmd = [str(Path(sys.executable).parent / "locust"), "-f", str(locustfile), "--headless", "-u", str(users),
           "-r", str(users), "-t", f"{seconds}s", "--host", host, "--json-file", str(stats), "--only-summary",
           "--loglevel", "WARNING"]
    subprocess.run(cmd, cwd=work, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=seconds + 60)
    # Locust's final figures: requests over the time from the first to the last request.
    entries = json.loads(Path(f"{stats}.json").read_text())
    n = sum(e["num_requests"] for e in entries)
    span = max(e["last_request_timestamp"] for e in entries) - min(e["start_time"] for e in entries)
    return n / span, n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="shopbench-overhead-") as tmp:
        work = Path(tmp)
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stdout=subprocess.PIPE, text=True)
        try:
            if server.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
                print("the test server did not start", file=sys.stderr)
                return 1
            (work / "urls.json").write_text(json.dumps({k: host for k in ("ORDER_URL", "PAYMENT_URL", "STOCK_URL")}))
            env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SHOPBENCH_URLS": str(work / "urls.json"),
                   "SHOPBENCH_HISTORY": str(work / "ops.jsonl")}
            plain_rps, plain_n = run_locust("plain", PLAIN, host, args.users, args.seconds, work, env)
            time.sleep(0.5)
            shop_rps, shop_n = run_locust("shop_user", SHOPBENCH, host, args.users, args.seconds, work, env)
            recorded = sum(1 for _ in open(work / "ops.jsonl", "rb"))
        finally:
            server.terminate()
            server.wait(5)
    ratio = shop_rps / plain_rps if plain_rps else 0.0
    print(f"plain Locust FastHttpUser:        {plain_rps:9.0f} req/s ({plain_n} requests)")
    print(f"shopbench driver + history:       {shop_rps:9.0f} req/s ({shop_n} requests, {recorded} recorded)")
    print(f"ratio shopbench / plain:          {ratio:9.2f}  (target >= {TARGET_RATIO})")
    ok = ratio >= TARGET_RATIO and recorded == shop_n
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
