"""Each toxic of the fault proxy on a real loopback link, switched on and off while traffic flows."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

import pytest

from shopbench.nemesis.proxy import LinkProxy, ProxyError

LINK = "client->stock"


def timed_get(conn: http.client.HTTPConnection, path: str = "/") -> tuple[float, bytes]:
    t0 = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200
    return time.perf_counter() - t0, body


def connect(proxy: LinkProxy, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", proxy.port(LINK), timeout=timeout)


def test_forwards_bytes_both_ways_on_a_kept_alive_connection(link: LinkProxy) -> None:
    conn = connect(link)
    for _ in range(20):
        _, body = timed_get(conn)
        assert body == b"hello"
    _, big = timed_get(conn, "/big")
    assert len(big) == 200_000
    conn.close()


def test_latency_is_added_and_measured_and_switched_off_on_the_same_connection(link: LinkProxy) -> None:
    conn = connect(link)
    base = statistics.median(timed_get(conn)[0] for _ in range(5))
    link.set(LINK, latency_ms=150, jitter_ms=20)
    delayed = [timed_get(conn)[0] for _ in range(6)]
    assert all(d - base >= 0.125 for d in delayed), (base, delayed)  # 150 - 20 jitter, minus slack
    assert statistics.median(delayed) < base + 0.6, delayed
    assert max(delayed) - min(delayed) > 0.002  # jitter varies it
    link.clear(LINK)
    after = statistics.median(timed_get(conn)[0] for _ in range(5))  # the same connection, no longer delayed
    assert after < base + 0.05, (base, after)
    conn.close()


def test_bandwidth_limits_a_large_response(link: LinkProxy) -> None:
    conn = connect(link, timeout=10)
    fast, _ = timed_get(conn, "/big")
    link.set(LINK, rate=400_000)  # bytes/s: 200 KB takes about 0.5 s
    slow, body = timed_get(conn, "/big")
    assert len(body) == 200_000
    assert slow >= 0.35 and slow > 3 * fast, (fast, slow)
    conn.close()


def test_slicing_delivers_the_same_bytes_in_small_delayed_pieces(link: LinkProxy) -> None:
    link.set(LINK, slice_bytes=8, slice_ms=5)
    sock = socket.create_connection(("127.0.0.1", link.port(LINK)), timeout=5)
    t0 = time.perf_counter()
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    reads, data = 0, b""
    while chunk := sock.recv(65536):
        reads += 1
        data += chunk
    took = time.perf_counter() - t0
    sock.close()
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"hello")
    assert reads >= 5 and took >= 0.05, (reads, took)  # > 100 bytes in 8-byte slices, 5 ms apart


def test_blackhole_times_out_new_and_stalls_existing_connections_then_lifts(link: LinkProxy) -> None:
    existing = connect(link, timeout=0.5)
    timed_get(existing)
    link.set(LINK, blackhole=True)
    with pytest.raises(TimeoutError):
        timed_get(existing)  # the kept-alive connection stalls
    fresh = connect(link, timeout=0.5)
    with pytest.raises(TimeoutError):
        timed_get(fresh)  # a new one is accepted and never answered
    link.clear(LINK)
    assert timed_get(connect(link))[1] == b"hello"


def test_reset_resets_existing_and_new_connections(link: LinkProxy) -> None:
    existing = connect(link)
    timed_get(existing)
    link.set(LINK, reset=True)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
        timed_get(existing)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
        timed_get(connect(link))
    link.clear(LINK)
    assert timed_get(connect(link))[1] == b"hello"


def test_down_refuses_connections_and_healing_listens_again_on_the_same_port(link: LinkProxy) -> None:
    port = link.port(LINK)
    existing = connect(link)
    timed_get(existing)
    link.set(LINK, down=True)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError, ConnectionRefusedError)):
        timed_get(existing)
    assert link.state()[LINK]["listening"] is False
    link.clear(LINK)
    assert link.state()[LINK]["port"] == port
    assert timed_get(connect(link))[1] == b"hello"


def test_a_toxic_on_one_link_leaves_the_other_alone(link: LinkProxy) -> None:
    link.set(LINK, down=True)
    other = http.client.HTTPConnection("127.0.0.1", link.port("order->payment"), timeout=2)
    assert timed_get(other)[1] == b"hello"


def test_bad_commands_are_refused_with_a_reason(link: LinkProxy) -> None:
    with pytest.raises(ProxyError, match="no link 'nope'"):
        link.set("nope", down=True)
    with pytest.raises(ProxyError, match="unknown toxic 'latency'"):
        link.set(LINK, latency=5)


def test_proxy_exits_when_its_parent_goes(upstream: tuple[str, int]) -> None:
    # The parent holds the proxy's stdin: a SIGKILLed shopbench must not leave a proxy behind.
    script = ("import sys, time; from shopbench.nemesis.proxy import LinkProxy; "
              f"p = LinkProxy.start({{'a->b': ('127.0.0.1', {upstream[1]})}}); print(p.pid, flush=True); "
              "time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        child = int(parent.stdout.readline())  # type: ignore[union-attr]
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail("the proxy outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_proxy_works_from_a_gevent_monkey_patched_process(upstream: tuple[str, int]) -> None:
    # The load generator (Locust) patches everything with gevent before the nemesis starts the proxy
    # and drives it from a (greenlet) thread: the child process is untouched by that.
    script = f"""
from gevent import monkey; monkey.patch_all()
import http.client, threading, time
from shopbench.nemesis.proxy import LinkProxy
p = LinkProxy.start({{"a->b": ("127.0.0.1", {upstream[1]})}})
out = {{}}
def drive():
    p.set("a->b", latency_ms=100)
    c = http.client.HTTPConnection("127.0.0.1", p.port("a->b"), timeout=5)
    t = time.perf_counter(); c.request("GET", "/"); c.getresponse().read(); out["t"] = time.perf_counter() - t
    p.set("a->b", down=True); p.clear("a->b")
threading.Thread(target=drive).start()
time.sleep(0.01)
while "t" not in out: time.sleep(0.01)
p.stop()
print(round(out["t"], 3))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout.strip()) >= 0.09, done.stdout


@pytest.fixture(params=["bytes", "http"])
def any_link(request: pytest.FixtureRequest, link: LinkProxy, upstream: tuple[str, int]):
    """The module's proxy, and one that frames HTTP (request positions) on the same upstream."""
    if request.param == "bytes":
        yield link
        return
    with LinkProxy.start({LINK: upstream}, http=True) as framed:
        yield framed
        got = framed.requests(LINK)
        assert got["count"] > 0 and got["opaque_connections"] == 0, got
        # every request framed whole, both ways, while toxics came and went
        assert all("returned" in r["events"] and r["status"] == 200 for r in got["requests"]), got["requests"][:3]


def test_shaping_toxics_flipped_under_concurrent_traffic_never_corrupt_a_stream(any_link: LinkProxy) -> None:
    import threading

    link = any_link

    errors: list[str] = []
    done = threading.Event()
    counts = [0] * 6

    def client(k: int) -> None:
        conn = connect(link, timeout=10)
        while not done.is_set():
            path = "/big" if k % 2 else "/"
            try:
                _, body = timed_get(conn, path)
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                errors.append(f"{k}: {type(exc).__name__}: {exc}")
                return
            if body != (b"x" * 200_000 if k % 2 else b"hello"):
                errors.append(f"{k}: wrong body of {len(body)} bytes")
                return
            counts[k] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for toxics in ({"latency_ms": 20, "jitter_ms": 15}, {"rate": 5_000_000}, {"slice_bytes": 1000, "slice_ms": 1},
                   {}, {"latency_ms": 5, "rate": 2_000_000}, {}):
        link.clear(LINK)
        if toxics:
            link.set(LINK, **toxics)
        time.sleep(0.4)
    done.set()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert all(c > 0 for c in counts), counts
