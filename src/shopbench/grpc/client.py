"""A gRPC client that records every call in the history and, inside Locust, as a Locust request.

    client = GrpcClient("127.0.0.1:50051", catalog, listener, process="l-u0", deadline=5.0)
    result = client.call("GetVacancy", {"Id": vid}, args={"id": vid}, value=lambda r: …)

A server stream is one operation: its messages are collected, `value` records `{"stream":
{"messages", "first_ms", "last_ms"}}` beside what the caller's `value` makes of them, and Locust's
request event carries the same figures in its `context`; a stream that breaks after its first
message is indeterminate (`info`), whatever its status. Client streams take a list of requests.

Each call has a deadline; the bearer token (`client.token`) goes in `authorization` metadata and
never into the history: `args` are what the caller chooses to record. Like the REST driver, a call
is registered in flight (`driver/inflight.py`) before it is sent: a call its greenlet lost (a user
stopped by Locust, Ctrl-C) or that the Locust plugin sweeps at the end of the load is recorded as
`info` with the reason ("cut off: …"), once, and fired to Locust as a failure. Importing this module makes
grpcio cooperate with gevent (`grpc.experimental.gevent.init_gevent()`, as Locust's gRPC example
does): it must happen before the first channel is created in the process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.experimental.gevent as grpc_gevent
from gevent import GreenletExit

from shopbench.driver.inflight import IN_FLIGHT
from shopbench.grpc.protos import Catalog
from shopbench.grpc.status import outcome
from shopbench.history import INFO, OK, Op, OpListener, unexpected

grpc_gevent.init_gevent()
log = logging.getLogger("shopbench.grpc")


@dataclass(slots=True)
class Result:
    kind: str  # ok / fail / info
    code: str  # gRPC status name
    response: Any
    error: str | None

    @property
    def ok(self) -> bool:
        return self.kind == OK


class GrpcError(Exception):
    """What Locust's statistics show for a call that did not end as the workload expected."""


def _request(cls: Any, body: Any) -> Any:
    return body if not isinstance(body, dict) else cls(**body)


class GrpcClient:
    def __init__(self, target: str, catalog: Catalog, listener: OpListener | None, process: str,
                 deadline: float = 5.0, fire: Callable[..., None] | None = None,
                 channel: grpc.Channel | None = None):
        self.target = target
        self.catalog = catalog
        self.listener = listener
        self.process = process
        self.deadline = deadline
        self.fire = fire  # Locust's events.request.fire, or None outside Locust
        self.token: str | None = None
        self.halted = False  # set while Locust stops the user: a call not yet sent is not sent
        self.channel = channel or grpc.insecure_channel(target)
        self._owns_channel = channel is None
        self._calls: dict[str, Any] = {}
        self._next_id = getattr(listener, "next_id", None)

    def _callable(self, name: str) -> tuple[Any, Any]:
        """(multi-callable, method) of an RPC, made once per client, of the RPC's shape."""
        entry = self._calls.get(name)
        if entry is None:
            m = self.catalog.method(name)
            make = getattr(self.channel, m.kind)
            entry = self._calls[name] = (make(m.path, request_serializer=m.request.SerializeToString,
                                              response_deserializer=m.response.FromString), m)
        return entry

    def call(self, name: str, request: Any = None, *, args: dict[str, Any] | None = None,
             expect: str | None = None, scenario: str | None = None, intended: float | None = None,
             value: Callable[[Any], Any] | None = None, token: str | None | bool = True,
             deadline: float | None = None) -> Result:
        """Call `name`; record it; return its outcome. `token`: True for the client's own, a string
        for that one, None/False for no authorization header. A client-streaming RPC takes a list of
        requests; a server-streaming one answers (`Result.response`, `value`'s argument) with the
        list of its messages."""
        if self.halted:
            raise GreenletExit("halted before sending: the user was stopped")
        fn, method = self._callable(name)
        cls = getattr(method, "request", dict)
        if getattr(method, "client_streaming", False):
            req: Any = iter([_request(cls, r) for r in (request or [])])
        else:
            req = _request(cls, request or {})
        server_streaming = getattr(method, "server_streaming", False)
        bearer = self.token if token is True else (token or None)
        metadata = (("authorization", f"Bearer {bearer}"),) if bearer else None
        wall, t0 = time.time(), time.monotonic()
        stream = Stream(t0) if server_streaming else None
        response, error = None, None

        def cut_off(reason: str) -> None:
            # Stopped with the call in flight: the server may have acted on it.
            try:
                figures = {"stream": stream.figures()} if stream is not None else None
                self._record(name, args, expect, INFO, None, figures, reason, wall, t0, intended, scenario)
                self._fire(name, t0, time.monotonic(), 0, GrpcError(reason), stream)
            except Exception:  # the history is closing under us: nothing more we can do here
                log.exception("could not record a gRPC call cut off (%s %s)", name, args)

        pending = IN_FLIGHT.add(cut_off)
        try:
            if stream is None:
                response = fn(req, timeout=deadline or self.deadline, metadata=metadata)
            else:
                response = stream.messages
                for message in fn(req, timeout=deadline or self.deadline, metadata=metadata):
                    stream.add(message)
            kind, code_name, status = OK, "OK", 0
        except grpc.RpcError as exc:
            code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
            details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
            debug = exc.debug_error_string() if callable(getattr(exc, "debug_error_string", None)) else ""
            kind, code_name, status = outcome(code, f"{details} {debug}"), code.name, code.value[0]
            error = f"{code_name}: {details}"
            if stream is not None and stream.messages:
                # Cut off midway: the rest of the answer is unknown, whatever the status says.
                kind, error = INFO, f"{error} (the stream ended after {len(stream.messages)} messages)"
        except BaseException as exc:  # killed mid-call (GreenletExit, Timeout, KeyboardInterrupt)
            IN_FLIGHT.done(pending)
            if pending.claim():
                cut_off(IN_FLIGHT.reason(exc))
            raise
        IN_FLIGHT.done(pending)
        t1 = time.monotonic()
        result = Result(kind, code_name, response, error)
        if not pending.claim():
            return result  # swept while in flight, already recorded as info: the answer is the workload's only
        val = value(response) if (value is not None and response is not None and kind == OK) else None
        if stream is not None:
            val = {"stream": stream.figures(), **(val or {})}
        self._record(name, args, expect, kind, status, val, error, wall, t0, intended, scenario, t1)
        bad = unexpected(kind, expect, scenario)
        length = stream.bytes if stream is not None else (response.ByteSize() if response is not None else 0)
        self._fire(name, t0, t1, length, GrpcError(error or kind) if bad else None, stream)
        return result

    def _fire(self, name: str, t0: float, t1: float, length: int, exception: Exception | None,
              stream: Stream | None = None) -> None:
        if self.fire is not None:
            self.fire(request_type="grpc", name=name, response_time=(t1 - t0) * 1000.0, response_length=length,
                      exception=exception, context=stream.figures() if stream is not None else {})

    def _record(self, name: str, args: dict[str, Any] | None, expect: str | None, kind: str, status: int | None,
                value: Any, error: str | None, wall: float, t0: float, intended: float | None,
                scenario: str | None, t1: float | None = None) -> None:
        if self.listener is not None:
            op_id = self._next_id() if self._next_id is not None else 0
            self.listener(Op(op_id, self.process, name, args or {}, expect, kind, status, value, error, wall, t0,
                             time.monotonic() if t1 is None else t1, intended, scenario))

    def close(self) -> None:
        if self._owns_channel:
            self.channel.close()


class Stream:
    """A server stream as one operation: its messages, and when the first and the last came."""

    __slots__ = ("t0", "messages", "first", "last", "bytes")

    def __init__(self, t0: float):
        self.t0, self.messages, self.first, self.last, self.bytes = t0, [], None, None, 0

    def add(self, message: Any) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.last = now
        self.messages.append(message)
        self.bytes += message.ByteSize()

    def figures(self) -> dict[str, Any]:
        """`messages`, and ms from the invocation to the `first_ms` and `last_ms` message (null before any)."""
        def ms(t: float | None) -> float | None:
            return None if t is None else round((t - self.t0) * 1000.0, 3)

        return {"messages": len(self.messages), "first_ms": ms(self.first), "last_ms": ms(self.last)}
