"""Request positions: the proxy frames HTTP/1.1 on kept-alive connections (Content-Length and chunked
bodies, both ways), numbers the requests of a link, and hits exactly request N: refused, reset after
delivery, answer delayed, or held at an event the controller waits on. Real aiohttp and gunicorn
services behind a real proxy; each service logs what reached it, so "never delivered" is checked
at the service, not assumed."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopbench.nemesis.proxy import LinkProxy, ProxyError
from shopbench.nemesis.proxy.framing import Framer
from shopbench.processes import free_port

HERE = Path(__file__).resolve().parent
LINK = "order->payment"
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
# The proxy's own control logic: one kind of service is enough (framing is tested on both).
ONE_SERVER = pytest.mark.parametrize("service", ["aiohttp"], indirect=True)


class Service:
    def __init__(self, kind: str, tmp: Path):
        self.port = free_port()
        self.log = tmp / f"{kind}.log"
        self.log.touch()
        if kind == "aiohttp":
            argv = [sys.executable, str(HERE / "positions_app.py"), str(self.port), str(self.log)]
        else:
            argv = [GUNICORN, "-k", "gthread", "--threads", "4", "-w", "1", "--keep-alive", "30",
                    "-b", f"127.0.0.1:{self.port}", "--pythonpath", str(HERE), "--chdir", str(tmp),
                    "positions_app:wsgi"]  # its folder as cwd: setproctitle hides the command line
        self.proc = subprocess.Popen(argv, env={**os.environ, "POSITIONS_LOG": str(self.log)},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{kind} did not start")

    def seen(self) -> list[str]:
        return self.log.read_text().splitlines()

    def kill(self) -> None:
        with _suppress():
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()


class _suppress:  # noqa: N801 - a tiny contextlib.suppress(ProcessLookupError)
    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: object, *rest: object) -> bool:
        return kind is ProcessLookupError


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Service], Path]]:
    # The module's own folder, made before any test: the suite's leak check knows its services are
    # the module's, not a test's (tests/conftest.py).
    running: dict[str, Service] = {}
    yield running, tmp_path_factory.mktemp("position-services")
    for svc in running.values():
        svc.stop()


@pytest.fixture(params=["aiohttp", "gunicorn"])
def service(request: pytest.FixtureRequest, services: tuple[dict[str, Service], Path]) -> Service:
    """One service of each kind for the module (started again after a test killed it), its log empty."""
    running, folder = services
    svc = running.get(request.param)
    if svc is None or svc.proc.poll() is not None:
        svc = running[request.param] = Service(request.param, folder)
    svc.log.write_bytes(b"")
    return svc


@pytest.fixture
def proxy(service: Service) -> Iterator[LinkProxy]:
    with LinkProxy.start({LINK: ("127.0.0.1", service.port)}, http=True) as p:
        yield p


def conn(proxy: LinkProxy, timeout: float = 10.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", proxy.port(LINK), timeout=timeout)


def call(c: http.client.HTTPConnection, method: str, path: str, body: object = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    c.request(method, path, body=body, headers=headers or {})
    resp = c.getresponse()
    return resp.status, resp.read()


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def in_thread(fn) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run() -> None:
        try:
            out["result"] = fn()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            out["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


# -- framing, pure ---------------------------------------------------------------------------------
REQUESTS = (b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /b?x=1 HTTP/1.1\r\nHost: x\r\n\r\n\r\n"
            b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext\r\nabc\r\n10\r\n0123456789abcdef\r\n"
            b"0\r\nTrailer: 1\r\n\r\n"
            b"HEAD /d HTTP/1.1\r\n\r\n")


@pytest.mark.parametrize("step", [1, 2, 3, 7, len(REQUESTS)])
def test_framer_finds_every_request_whatever_the_chunks_and_passes_every_byte(step: int) -> None:
    framer, items = Framer(request=True), []
    for k in range(0, len(REQUESTS), step):
        items += framer.feed(REQUESTS[k:k + step])
    assert b"".join(i[-1] for i in items if i[0] in ("head", "data")) == REQUESTS
    marks = [(i[0], i[1].method + " " + i[1].path) if i[0] == "head" else (i[0],) for i in items if i[0] != "data"]
    assert marks == [("head", "POST /a"), ("end",), ("head", "GET /b?x=1"), ("end",), ("head", "POST /c"), ("end",),
                     ("head", "HEAD /d"), ("end",)]


def test_framer_knows_which_answers_have_no_body() -> None:
    methods = iter(["GET", "HEAD", "GET", "GET"])
    framer = Framer(request=False, request_method=lambda: next(methods))
    data = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"  # the answer to HEAD: no body
            b"HTTP/1.1 304 Not Modified\r\n\r\n"
            b"HTTP/1.1 200 OK\r\n\r\nuntil the close")
    items = framer.feed(data)
    heads = [i[1].status for i in items if i[0] == "head"]
    assert heads == [100, 200, 200, 304, 200]
    assert sum(i[0] == "end" for i in items) == 4  # the last body ends with the connection
    assert framer.eof() == [("end",)]


@pytest.mark.parametrize("data", [b"\x16\x03\x01\x02\x00\x01\x00", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                                  b"SSH-2.0-OpenSSH\r\n"])
def test_framer_gives_up_at_once_on_what_is_not_http1(data: bytes) -> None:
    framer = Framer(request=True)
    items = framer.feed(data)
    assert framer.opaque and b"".join(i[1] for i in items) == data


# -- a real service behind the proxy ---------------------------------------------------------------
def test_requests_are_numbered_with_method_path_status_and_events(proxy: LinkProxy, service: Service) -> None:
    a, b = conn(proxy), conn(proxy)
    assert call(a, "POST", "/echo", b"first") == (200, b"first")
    assert call(a, "POST", "/echo", iter([b"chun", b"ked"])) == (200, b"chunked")  # a chunked request body
    assert call(b, "GET", "/chunked") == (200, b"one,two,three")  # a chunked answer
    assert call(a, "GET", "/x?y=1") == (200, b"ok")
    head = a.request("HEAD", "/echo") or a.getresponse()
    head.read()
    assert call(a, "POST", "/echo", b"after-head") == (200, b"after-head")  # framing survived the HEAD
    got = proxy.requests(LINK)
    assert got["count"] == 6 and got["opaque_connections"] == 0
    rows = [(r["n"], r["method"], r["path"], r["status"]) for r in got["requests"]]
    assert rows == [(1, "POST", "/echo", 200), (2, "POST", "/echo", 200), (3, "GET", "/chunked", 200),
                    (4, "GET", "/x?y=1", 200), (5, "HEAD", "/echo", 200), (6, "POST", "/echo", 200)]
    assert len({r["conn"] for r in got["requests"]}) == 2
    for r in got["requests"]:
        ev = r["events"]
        assert set(ev) == {"sent", "delivered", "answered", "returned"}, r
        assert ev["sent"] <= ev["delivered"] <= ev["answered"] <= ev["returned"], r
    again = proxy.requests(LINK, reset=True)
    assert again["count"] == 6
    assert call(a, "GET", "/x") == (200, b"ok")
    assert [r["n"] for r in proxy.requests(LINK)["requests"]] == [1]  # numbered from 1 again


def test_refuse_never_delivers_request_n(proxy: LinkProxy, service: Service) -> None:
    proxy.arm(LINK, 2, "refuse")
    c = conn(proxy)
    assert call(c, "POST", "/echo", b"one") == (200, b"one")
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        call(c, "POST", "/echo", b"two")
    assert call(conn(proxy), "POST", "/echo", b"three") == (200, b"three")
    assert service.seen() == ["POST /echo one", "POST /echo three"]
    assert "refused" in proxy.requests(LINK)["requests"][1]["events"]


def test_reset_after_request_delivers_it_and_loses_the_answer(proxy: LinkProxy, service: Service) -> None:
    proxy.arm(LINK, 1, "reset_after_request")
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        call(conn(proxy), "POST", "/echo", iter([b"paid", b"-once"]))
    assert service.seen() == ["POST /echo paid-once"]
    (rec,) = proxy.requests(LINK)["requests"]
    assert "reset" in rec["events"] and "delivered" in rec["events"] and "returned" not in rec["events"]


@ONE_SERVER
def test_delay_answer_holds_answer_n_and_only_it(proxy: LinkProxy, service: Service) -> None:
    proxy.arm(LINK, 2, "delay_answer", seconds=0.5)
    c = conn(proxy)
    for body in (b"a", b"b", b"c"):
        assert call(c, "POST", "/echo", body) == (200, body)
    recs = proxy.requests(LINK)["requests"]
    held = [r["events"]["returned"] - r["events"]["answered"] for r in recs]
    # 0.49: asyncio runs a timer up to its clock resolution early, and the events are wall-clock stamps
    assert held[1] >= 0.49 and "released" in recs[1]["events"], held
    assert "released" not in recs[0]["events"] and "released" not in recs[2]["events"]


def test_hold_after_delivery_then_kill_the_service_the_caller_gets_no_answer(proxy: LinkProxy,
                                                                             service: Service) -> None:
    proxy.arm(LINK, 1, "hold_after_delivery")
    c = conn(proxy)
    t, out = in_thread(lambda: call(c, "POST", "/echo", b"charge"))
    proxy.wait(LINK, 1, "delivered")
    assert wait_for(lambda: service.seen() == ["POST /echo charge"])  # the service got it ...
    assert proxy.wait(LINK, 1, "answered")["record"]["status"] == 200  # ... and answered
    assert t.is_alive() and not out  # but the caller has nothing yet
    service.kill()
    assert proxy.release(LINK, 1)
    t.join(10)
    # Held since delivery, the answer goes with the hold: on release the caller gets what the proxy
    # had received (the answer, then the service's close).
    assert out.get("result") == (200, b"charge"), out


def test_hold_after_delivery_of_a_service_killed_before_answering_closes_the_caller_after_release(
        proxy: LinkProxy, service: Service) -> None:
    proxy.arm(LINK, 1, "hold_after_delivery")
    c = conn(proxy)
    t, out = in_thread(lambda: call(c, "GET", "/slow"))  # answers after 0.3 s: killed before that
    proxy.wait(LINK, 1, "delivered")
    assert wait_for(lambda: service.seen() == ["GET /slow "])
    service.kill()
    time.sleep(0.2)  # the service's close reaches the proxy; it must stay held
    assert t.is_alive() and not out
    proxy.release(LINK, 1)
    t.join(10)
    assert isinstance(out.get("error"), (ConnectionError, http.client.RemoteDisconnected)), out
    assert "answered" not in proxy.requests(LINK)["requests"][0]["events"]


def test_hold_answer_waits_until_the_whole_answer_left_the_service(proxy: LinkProxy, service: Service) -> None:
    proxy.arm(LINK, 2, "hold_answer")
    c = conn(proxy)
    assert call(c, "GET", "/x") == (200, b"ok")
    t, out = in_thread(lambda: call(c, "GET", "/chunked"))
    got = proxy.wait(LINK, 2, "answered")
    assert got["record"]["path"] == "/chunked" and got["record"]["status"] == 200
    assert t.is_alive() and not out
    service.kill()  # the answer has left the service: killing it now loses nothing the caller waits for
    proxy.release(LINK, 2)
    t.join(10)
    assert out.get("result") == (200, b"one,two,three"), out


def test_hold_request_then_kill_the_caller_the_service_still_gets_the_request(proxy: LinkProxy,
                                                                              service: Service) -> None:
    proxy.arm(LINK, 1, "hold_request")
    script = ("import socket, sys, time; s = socket.create_connection(('127.0.0.1', int(sys.argv[1]))); "
              "s.sendall(b'POST /echo HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 7\\r\\n\\r\\npayment'); "
              "time.sleep(60)")
    caller = subprocess.Popen([sys.executable, "-c", script, str(proxy.port(LINK))])
    try:
        proxy.wait(LINK, 1, "sent")
        assert service.seen() == []  # it left the caller; the service has not seen it
        caller.kill()
        caller.wait(10)
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait()
    proxy.release(LINK, 1)
    assert wait_for(lambda: service.seen() == ["POST /echo payment"])
    assert "delivered" in proxy.wait(LINK, 1, "delivered")["record"]["events"]


@ONE_SERVER
def test_a_hold_nobody_releases_ends_by_itself(proxy: LinkProxy) -> None:
    proxy.arm(LINK, 1, "hold_answer", hold_max=0.3)
    assert call(conn(proxy), "GET", "/x") == (200, b"ok")
    assert "released" in proxy.requests(LINK)["requests"][0]["events"]


@ONE_SERVER
def test_wait_times_out_with_a_reason_and_bad_arms_are_refused(proxy: LinkProxy) -> None:
    with pytest.raises(ProxyError, match="request 5 on order->payment had no delivered event within 0.2 s"):
        proxy.wait(LINK, 5, "delivered", timeout=0.2)
    with pytest.raises(ProxyError, match="unknown mode 'drop'"):
        proxy.arm(LINK, 1, "drop")
    with pytest.raises(ProxyError, match="delay_answer needs seconds"):
        proxy.arm(LINK, 1, "delay_answer")
    with pytest.raises(ProxyError, match="unknown event 'done'"):
        proxy.wait(LINK, 1, "done")


@ONE_SERVER
def test_clear_disarms_and_releases(proxy: LinkProxy) -> None:
    proxy.arm(LINK, 1, "hold_answer")
    c = conn(proxy)
    t, out = in_thread(lambda: call(c, "GET", "/x"))
    proxy.wait(LINK, 1, "answered")
    proxy.clear(LINK)
    t.join(10)
    assert out.get("result") == (200, b"ok")
    assert proxy.state()[LINK]["armed"] == []


@ONE_SERVER
def test_a_non_http_stream_is_forwarded_untouched_and_not_counted(proxy: LinkProxy) -> None:
    s = socket.create_connection(("127.0.0.1", proxy.port(LINK)), timeout=5)
    s.sendall(b"\x16\x03\x01\x00\x05hello\r\n\r\n")  # a TLS-like record: the service answers 400 and closes
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.") and b" 400 " in data.split(b"\r\n")[0]
    got = proxy.requests(LINK)
    assert got["count"] == 0 and got["opaque_connections"] == 1


@ONE_SERVER
def test_arming_a_link_that_does_not_frame_http_says_how(service: Service) -> None:
    with LinkProxy.start({LINK: ("127.0.0.1", service.port)}) as p:
        with pytest.raises(ProxyError, match='send {"op": "http", "link": "order->payment", "on": true} first'):
            p.arm(LINK, 1, "refuse")
        c = conn(p)
        assert call(c, "GET", "/x") == (200, b"ok")  # accepted before framing: stays untracked
        p.http(LINK)
        p.arm(LINK, 1, "refuse")
        assert call(c, "GET", "/x") == (200, b"ok")
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            call(conn(p), "GET", "/x")
        assert p.requests(LINK)["untracked_connections"] == 1


def test_an_interim_100_continue_is_not_taken_for_the_answer(proxy: LinkProxy, service: Service) -> None:
    s = socket.create_connection(("127.0.0.1", proxy.port(LINK)), timeout=10)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    interim = s.recv(65536)
    assert interim.startswith(b"HTTP/1.1 100"), interim
    s.sendall(b"body")
    c = http.client.HTTPConnection("127.0.0.1", proxy.port(LINK))
    c.sock = s  # the same kept-alive connection, read by http.client from here on
    resp = http.client.HTTPResponse(s, method="POST")
    resp.begin()
    assert (resp.status, resp.read()) == (200, b"body")
    assert call(c, "GET", "/x") == (200, b"ok")
    s.close()
    rows = [(r["n"], r["path"], r["status"]) for r in proxy.requests(LINK)["requests"]]
    assert rows == [(1, "/echo", 200), (2, "/x", 200)]


def test_a_service_that_resets_while_its_answer_is_held_closes_the_caller_only_on_release() -> None:
    # A killed service usually closes with a FIN (held in order with the bytes); a reset (RST) ends
    # the proxy's upstream socket at once, and the caller must still not learn of it before release.
    listener = socket.create_server(("127.0.0.1", 0))
    go = threading.Event()

    def serve() -> None:
        peer, _ = listener.accept()
        peer.recv(65536)
        go.wait(10)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    with LinkProxy.start({LINK: listener.getsockname()[:2]}, http=True) as p:
        p.arm(LINK, 1, "hold_after_delivery")
        c = conn(p)
        t, out = in_thread(lambda: call(c, "GET", "/x"))
        p.wait(LINK, 1, "delivered")
        go.set()
        server.join(10)
        t.join(0.5)
        assert t.is_alive() and not out  # the reset is held behind the hold
        p.release(LINK, 1)
        t.join(10)
        assert isinstance(out.get("error"), (ConnectionError, http.client.RemoteDisconnected)), out
    listener.close()


@ONE_SERVER
def test_a_request_in_flight_across_a_reset_is_not_taken_for_the_new_number_one(proxy: LinkProxy,
                                                                                 service: Service) -> None:
    old = conn(proxy)
    t, out = in_thread(lambda: call(old, "GET", "/slow"))  # number 1 of the old numbering, answered in 0.3 s
    proxy.wait(LINK, 1, "delivered")
    proxy.requests(LINK, reset=True)
    proxy.arm(LINK, 1, "hold_answer")  # number 1 of the new numbering
    t.join(10)
    assert out.get("result") == (200, b"ok")  # the old request's answer was not held
    assert proxy.requests(LINK)["requests"] == []  # nor recorded as the new number 1
    new = conn(proxy)
    t, out = in_thread(lambda: call(new, "GET", "/x"))
    assert proxy.wait(LINK, 1, "answered")["record"]["path"] == "/x"
    assert t.is_alive() and not out
    proxy.release(LINK, 1)
    t.join(10)
    assert out.get("result") == (200, b"ok")


@pytest.mark.parametrize("data, paths", [
    (b"POST /x HTTP/1.1\r\nCONTENT-LENGTH: 3\r\n\r\nabcGET /y HTTP/1.1\r\n\r\n", ["/x", "/y"]),
    (b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
     b"GET /y HTTP/1.1\r\n\r\n", ["/x", "/y"]),
])
def test_framer_reads_headers_whatever_their_case_and_the_last_coding(data: bytes, paths: list[str]) -> None:
    framer = Framer(request=True)
    items = framer.feed(data)
    assert [i[1].path for i in items if i[0] == "head"] == paths and not framer.opaque
    assert sum(i[0] == "end" for i in items) == 2
