"""Calls/s of shopbench's gRPC user against a plain grpcio Locust user (Locust's gRPC example: a
channel per user, a client interceptor that fires Locust request events), on the same reference
gRPC service, one Locust process each, in one run.

    .venv/bin/python benchmarks/grpc_overhead.py [--users 10] [--seconds 8] [--rounds 2]

Both users call GetVacancy on one vacancy with a bearer token, with no wait. The two run one after
the other, alternating (A B A B …) so drift on a shared machine hits both, or with --together at
the same time (the machine's other load then hits both alike, but they share the service); shopbench's user also
writes every call to a history (ops.jsonl), as in a real run. Prints calls/s of each and the ratio;
target: shopbench >= 0.9x the plain user. Exit code 0 when the target holds, 1 otherwise.

This file is also the locustfile of both runs: BENCH_USER=plain|shopbench picks the user class.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing
TARGET_RATIO = 0.9


def _plain_user() -> type:
    import grpc
    import grpc.experimental.gevent as grpc_gevent
    from locust import User, constant, task

    from shopbench.grpc.protos import compile_dir

    grpc_gevent.init_gevent()  # Locust's example: before any channel exists
    catalog = compile_dir(os.environ["BENCH_PROTO"])
    method = catalog.method("GetVacancy")

    class LocustInterceptor(grpc.UnaryUnaryClientInterceptor):
        def __init__(self, environment: object) -> None:
            self.env = environment

        def intercept_unary_unary(self, continuation, client_call_details, request):  # noqa: ANN001
            start = time.perf_counter()
            response, exception, length = None, None, 0
            try:
                call = continuation(client_call_details, request)
                response = call.result()
                length = response.ByteSize()
            except grpc.RpcError as exc:
                exception, call = exc, exc
            self.env.events.request.fire(request_type="grpc", name=client_call_details.method,
                                         response_time=(time.perf_counter() - start) * 1000,
                                         response_length=length, response=response, context=None,
                                         exception=exception)
            return call

    class PlainGrpcUser(User):
        wait_time = constant(0)

        def __init__(self, environment: object) -> None:
            super().__init__(environment)
            channel = grpc.insecure_channel(self.host)
            self.channel = grpc.intercept_channel(channel, LocustInterceptor(environment))
            self.get = self.channel.unary_unary(method.path, request_serializer=method.request.SerializeToString,
                                                response_deserializer=method.response.FromString)
            self.meta = (("authorization", f"Bearer {os.environ['BENCH_TOKEN']}"),)

        @task
        def get_vacancy(self) -> None:
            try:
                self.get(method.request(Id=os.environ["BENCH_VID"]), metadata=self.meta, timeout=5)
            except grpc.RpcError:
                pass  # already a Locust failure through the interceptor

    return PlainGrpcUser


def _shopbench_user() -> type:
    from locust import constant, task

    from shopbench.grpc import load_settings as grpc_sessions
    from shopbench.grpc.locust_users import GrpcUser  # installs the Locust plugin, as in `shopbench grpc`
    from shopbench.grpc.target import GrpcTarget
    from shopbench.history import HistoryWriter
    from shopbench.locust_plugin import session as sessions

    writer = HistoryWriter(os.environ["BENCH_HISTORY"])
    sessions.install(sessions.Session(target=GrpcTarget(os.environ["BENCH_TARGET"]), writer=writer, owns_writer=True,
                                      live=False))
    grpc_sessions.install(grpc_sessions.GrpcSession(os.environ["BENCH_TARGET"], Path(os.environ["BENCH_PROTO"]),
                                                    [], {}, 5.0))

    class ShopbenchGrpcUser(GrpcUser):
        wait_time = constant(0)

        def on_start(self) -> None:
            self.client.token = os.environ["BENCH_TOKEN"]
            self.vid = os.environ["BENCH_VID"]

        @task
        def get_vacancy(self) -> None:
            self.client.call("GetVacancy", {"Id": self.vid}, args={"id": self.vid})

    return ShopbenchGrpcUser


def _count_calls() -> None:
    """Count requests between test start and stop on the monotonic clock, with the process's CPU time,
    into BENCH_RESULT: Locust's own req/s is computed from wall-clock timestamps, which a VM whose
    clock is stepped during the run makes meaningless."""
    import json
    import resource

    from locust import events

    state = {"calls": 0, "failures": 0}

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @events.request.add_listener
    def _on_request(exception: object = None, **_: object) -> None:
        state["calls"] += 1
        state["failures"] += exception is not None

    @events.test_start.add_listener
    def _on_start(**_: object) -> None:
        state.update(calls=0, failures=0, t0=time.monotonic(), cpu0=cpu())

    @events.test_stop.add_listener
    def _on_stop(**_: object) -> None:
        state.update(seconds=time.monotonic() - state["t0"], cpu=cpu() - state["cpu0"])
        Path(os.environ["BENCH_RESULT"]).write_text(json.dumps(state))


if os.environ.get("BENCH_USER") in ("plain", "shopbench"):
    _count_calls()
if os.environ.get("BENCH_USER") == "plain":
    PlainGrpcUser = _plain_user()
elif os.environ.get("BENCH_USER") == "shopbench":
    ShopbenchGrpcUser = _shopbench_user()


def added_cost_us(n: int = 20000) -> tuple[float, float]:
    """Wrapper cost per call without the network, in µs: shopbench's `GrpcClient.call` (request from
    a dict, history op, Locust event, outcome mapping) and the plain interceptor's own work (timing,
    Locust event), both around a multi-callable that answers at once. The difference is what
    shopbench adds to each call; the network and grpcio's own cost are the same for both."""
    from shopbench.grpc.client import GrpcClient
    from shopbench.grpc.protos import compile_dir
    from shopbench.grpc.service import reference_protos
    from shopbench.history import HistoryWriter, tee
    from shopbench.monitor import LoadMonitor

    catalog = compile_dir(reference_protos())
    method = catalog.method("GetVacancy")
    answer = method.response(vacancy={"Id": "x", "version": 2})

    def instant(request, timeout=None, metadata=None):  # noqa: ANN001, ANN202
        return answer

    def fire(**kwargs):  # noqa: ANN003, ANN202
        pass

    with tempfile.TemporaryDirectory() as tmp:
        writer = HistoryWriter(Path(tmp) / "ops.jsonl")
        client = GrpcClient("127.0.0.1:1", catalog, tee(writer, LoadMonitor()), "bench", fire=fire)
        client.token = "t"
        client._calls["GetVacancy"] = (instant, method)
        start = time.perf_counter()
        for _ in range(n):
            client.call("GetVacancy", {"Id": "x"}, args={"id": "x"})
        ours = (time.perf_counter() - start) / n * 1e6
        writer.close()
        client.close()
    meta = (("authorization", "Bearer t"),)
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        response = instant(method.request(Id="x"), metadata=meta, timeout=5)
        fire(request_type="grpc", name=method.path, response_time=(time.perf_counter() - t) * 1000,
             response_length=response.ByteSize(), response=response, context=None, exception=None)
    plain = (time.perf_counter() - start) / n * 1e6
    return ours, plain


def _rate(prefix: Path) -> tuple[float, int, float]:
    """(calls/s, failed calls, CPU µs per call) of one Locust run."""
    data = json.loads(Path(f"{prefix}.result.json").read_text())
    return data["calls"] / data["seconds"], data["failures"], data["cpu"] / max(data["calls"], 1) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--together", action="store_true", help="run both users at the same time (each its own "
                        "process) instead of one after the other")
    opts = parser.parse_args()

    from shopbench.grpc.client import GrpcClient
    from shopbench.grpc.credentials import generate, write_env
    from shopbench.grpc.protos import compile_dir
    from shopbench.grpc.service import RefGrpc, reference_protos
    from shopbench.workload.seed004 import Login

    work = Path(tempfile.mkdtemp(prefix="grpc-overhead-"))
    creds = generate(1)
    users_file = write_env(creds)
    rates: dict[str, list[float]] = {"plain": [], "shopbench": []}
    cpu_per_call: dict[str, list[float]] = {"plain": [], "shopbench": []}
    try:
        with RefGrpc(work / "service", users_file, token_ttl=3600) as service:
            client = GrpcClient(service.target, compile_dir(reference_protos()), None, "bench")
            Login(creds[0]).sign_in(client)
            vid = client.call("CreateVacancy", {"Title": "bench"}).response.vacancy.Id
            token = client.token
            client.close()
            env = {**os.environ, "BENCH_PROTO": str(reference_protos()), "BENCH_TARGET": service.target,
                   "BENCH_TOKEN": token, "BENCH_VID": vid,
                   "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT / "src"), os.environ.get("PYTHONPATH"))))}
            def start(kind: str, r: int) -> tuple[subprocess.Popen, Path]:
                prefix = work / f"{kind}{r}"
                cmd = [sys.executable, "-m", "locust", "-f", __file__, "--headless", "-u", str(opts.users),
                       "-r", str(opts.users), "-t", f"{opts.seconds}s", "--host", service.target,
                       "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"]
                return subprocess.Popen(cmd, env={**env, "BENCH_USER": kind, "BENCH_HISTORY": str(prefix) + ".jsonl",
                                                  "BENCH_RESULT": str(prefix) + ".result.json"},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), prefix

            def finish(kind: str, r: int, child: subprocess.Popen, prefix: Path) -> None:
                if child.wait() != 0:
                    raise RuntimeError(f"{kind} round {r}: locust exited {child.returncode}")
                rate, failures, cpu_us = _rate(prefix)
                if failures:
                    raise RuntimeError(f"{kind} round {r}: {failures} failed calls")
                rates[kind].append(rate)
                cpu_per_call[kind].append(cpu_us)
                print(f"round {r} {kind:9s} {rate:8.1f} calls/s, {cpu_us:6.0f} us CPU of the Locust process per call",
                      flush=True)

            for r in range(opts.rounds):
                order = ("plain", "shopbench") if r % 2 == 0 else ("shopbench", "plain")
                if opts.together:  # both at once: the machine's other load hits both alike
                    children = [(kind, *start(kind, r)) for kind in order]
                    for kind, child, prefix in children:
                        finish(kind, r, child, prefix)
                else:
                    for kind in order:
                        finish(kind, r, *start(kind, r))
            history = sum(1 for _ in open(work / "shopbench0.jsonl"))
            counted = json.loads((work / "shopbench0.result.json").read_text())["calls"]
    finally:
        users_file.unlink(missing_ok=True)
    plain, ours = sum(rates["plain"]) / len(rates["plain"]), sum(rates["shopbench"]) / len(rates["shopbench"])
    ratio = ours / plain
    cpu = {k: sum(v) / len(v) for k, v in cpu_per_call.items()}
    print(f"CPU per call of the Locust process: plain {cpu['plain']:.0f} us, shopbench {cpu['shopbench']:.0f} us")
    ours_us, plain_us = added_cost_us()
    print(f"wrapper cost without the network: shopbench {ours_us:.1f} us/call, plain interceptor {plain_us:.1f} "
          f"us/call: shopbench adds {ours_us - plain_us:.1f} us to each call "
          f"({(ours_us - plain_us) / cpu['plain'] * 100:.1f}% of the plain user's CPU per call in Locust)")
    print(f"plain grpcio Locust user: {plain:.1f} calls/s; shopbench GrpcUser: {ours:.1f} calls/s "
          f"(round 0: {counted} calls counted, {history} ops in its history); "
          f"ratio {ratio:.3f} (target >= {TARGET_RATIO})")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
