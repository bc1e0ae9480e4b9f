"""A gRPC client that records every call in the history and, inside Locust, as a Locust request.

    client = GrpcClient("127.0.0.1:50051", catalog, listener, process="l-u0", deadline=5.0)
    result = client.call("GetVacancy", {"Id": vid}, args={"id": vid}, value=lambda r: …)

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
from shopbench.grpc.outcome import outcome
from shopbench.grpc.protos import Catalog
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
        """(multi-callable, request class) of an RPC, made once per client."""
        entry = self._calls.get(name)
        if entry is None:
            m = self.catalog.method(name)
            entry = self._calls[name] = (self.channel.unary_unary(
                m.path, request_serializer=m.request.SerializeToString, response_deserializer=m.response.FromString),
                m.request)
        return entry

    def call(self, name: str, request: Any = None, *, args: dict[str, Any] | None = None,
             expect: str | None = None, scenario: str | None = None, intended: float | None = None,
             value: Callable[[Any], Any] | None = None, token: str | None | bool = True,
             deadline: float | None = None) -> Result:
        """Call `name`; record it; return its outcome. `token`: True for the client's own, a string
        for that one, None/False for no authorization header."""
        if self.halted:
            raise GreenletExit("halted before sending: the user was stopped")
        fn, request_class = self._callable(name)
        req = _request(request_class, request or {})
        bearer = self.token if token is True else (token or None)
        metadata = (("authorization", f"Bearer {bearer}"),) if bearer else None
        wall, t0 = time.time(), time.monotonic()
        response, error = None, None

        def cut_off(reason: str) -> None:
            # Stopped with the call in flight: the server may have acted on it.
            try:
                self._record(name, args, expect, INFO, None, None, reason, wall, t0, intended, scenario)
                self._fire(name, t0, time.monotonic(), 0, GrpcError(reason))
            except Exception:  # the history is closing under us: nothing more we can do here
                log.exception("could not record a gRPC call cut off (%s %s)", name, args)

        pending = IN_FLIGHT.add(cut_off)
        try:
            response = fn(req, timeout=deadline or self.deadline, metadata=metadata)
            kind, code_name, status = OK, "OK", 0
        except grpc.RpcError as exc:
            code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
            details = exc.details() if callable(getattr(exc, "details", None)) else str(exc)
            debug = exc.debug_error_string() if callable(getattr(exc, "debug_error_string", None)) else ""
            kind, code_name, status = outcome(code, f"{details} {debug}"), code.name, code.value[0]
            error = f"{code_name}: {details}"
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
        val = value(response) if (value is not None and response is not None) else None
        self._record(name, args, expect, kind, status, val, error, wall, t0, intended, scenario, t1)
        bad = unexpected(kind, expect, scenario)
        self._fire(name, t0, t1, response.ByteSize() if response is not None else 0,
                   GrpcError(error or kind) if bad else None)
        return result

    def _fire(self, name: str, t0: float, t1: float, length: int, exception: Exception | None) -> None:
        if self.fire is not None:
            self.fire(request_type="grpc", name=name, response_time=(t1 - t0) * 1000.0, response_length=length,
                      exception=exception, context={})

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

