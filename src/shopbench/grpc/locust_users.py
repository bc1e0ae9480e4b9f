"""Locust users on grpcio with gevent (Locust's gRPC example, plus shopbench's history).

`GrpcUser` gives each simulated user a `GrpcClient` on its own channel: every call is a Locust
request event (request_type "grpc", name = the RPC) and an operation in the run's history, through
the Locust integration the REST users use (`shopbench.locust_plugin`: its recorder, and its plugin,
installed here, so `--processes` workers ship theirs to the master, calls cut off at the stop are
recorded, and the run's companions run beside the load).

`Seed004User` is seed 004's user: it signs in with the next credential (round robin), runs the CRUD
flow on its schedule in the user's own greenlet, and the list on its own schedule in a second
greenlet, so a slow flow never delays a list (and the reverse).
"""

from __future__ import annotations

import random
import time
from typing import Any

import gevent
from locust import User, task

from shopbench.grpc import load_settings as sessions
from shopbench.grpc.client import GrpcClient
from shopbench.grpc.credentials import RoundRobin
from shopbench.locust_plugin import internals, plugin
from shopbench.locust_plugin.recorder import recorder
from shopbench.workload.seed004 import CRUD, LIST, Login, crud_flow, list_call

plugin.install()


def _listener() -> Any:
    def record(op: Any) -> None:
        recorder.record(op)

    record.next_id = recorder.next_id  # type: ignore[attr-defined]
    return record


class GrpcUser(User):
    abstract = True

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        sess = sessions.current()
        self.client = GrpcClient(sess.target, sess.get_catalog(), _listener(), recorder.client_name("g"),
                                 deadline=sess.deadline, fire=environment.events.request.fire)

    def stop(self, force: bool = False) -> bool:
        return internals.stop_halted(super().stop, self.client, force)

    def on_stop(self) -> None:
        self.client.close()


class Seed004User(GrpcUser):
    _robin: RoundRobin | None = None

    def on_start(self) -> None:
        sess = sessions.current()
        if Seed004User._robin is None:
            # With --processes N, worker w takes credentials w, w+N, …: all workers together go round.
            index = max(getattr(recorder.runner, "worker_index", 0), 0)
            opts = self.environment.parsed_options
            processes = int(getattr(opts, "processes", 0) or 0) if opts is not None else 0
            Seed004User._robin = RoundRobin(sess.credentials, start=index, step=max(processes, 1))
        self.every = sess.every
        self.login = Login(Seed004User._robin.next(), sess.token_ttl)
        self.rng = random.Random()
        self.login.sign_in(self.client)
        start = time.time()
        self.next_crud = start
        self._lister = gevent.spawn(self._list_loop, start)

    def wait_time(self) -> float:
        return max(0.0, self.next_crud - time.time())

    @task
    def crud(self) -> None:
        intended = self.next_crud
        self.next_crud += self.every[CRUD]
        crud_flow(self.client, self.login, self.rng, intended)

    def _list_loop(self, start: float) -> None:
        k = 0
        while True:
            intended = start + k * self.every[LIST]
            gevent.sleep(max(0.0, intended - time.time()))
            list_call(self.client, self.login, self.rng, intended)
            k += 1

    def on_stop(self) -> None:
        lister = getattr(self, "_lister", None)
        if lister is not None:
            lister.kill(block=True, timeout=2)
        super().on_stop()
