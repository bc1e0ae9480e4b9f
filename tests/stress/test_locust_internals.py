"""The Locust internals shopbench keeps (locust_plugin/internals.py), each exercised on a real Locust:
when an upgrade breaks one, the test says which one and why we need it.

Each test runs in a subprocess: importing Locust monkey-patches the process (gevent)."""

import json
import subprocess
import sys
import textwrap

import pytest


def run(code: str, timeout: float = 60) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


LOCAL_RUNNER = """
    import gevent
    from locust import User, constant, task
    from locust.env import Environment
    from shopbench.locust_plugin import internals
"""


def test_run_main_passes_argv_to_locusts_command_line():
    # locust.main.main() takes no argument list: run_main swaps sys.argv around it.
    out = run("""
        import sys
        from shopbench.locust_plugin import internals
        before = list(sys.argv)
        try:
            internals.run_main(["locust", "--version"])
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        else:
            raise AssertionError("locust --version did not exit")
        assert sys.argv == before, "run_main must restore sys.argv"
        print("ok")
    """)
    assert "ok" in out


def test_worker_runner_still_has_send_stats():
    out = run("""
        from locust.runners import WorkerRunner
        assert callable(getattr(WorkerRunner, "_send_stats", None)), (
            "Locust removed WorkerRunner._send_stats: a worker's final stats would arrive after the master quit")
        from shopbench.locust_plugin import internals
        class Fake:
            pass
        try:
            internals.send_stats(Fake())
        except RuntimeError as exc:
            assert "_send_stats" in str(exc)
        else:
            raise AssertionError("send_stats must fail loudly without _send_stats")
        print("ok")
    """)
    assert "ok" in out


def test_is_stopping_sees_a_user_asked_to_stop():
    out = run(LOCAL_RUNNER + """
    seen = []

    class U(User):
        wait_time = constant(0)

        @task
        def loop(self):
            while not internals.is_stopping(self):
                gevent.sleep(0.01)
            seen.append("stopping")

    env = Environment(user_classes=[U], stop_timeout=5)
    runner = env.create_local_runner()
    runner.start(1, spawn_rate=1)
    gevent.sleep(0.3)
    runner.stop()
    assert seen == ["stopping"], f"is_stopping never turned true: Locust changed _state/LOCUST_STATE_STOPPING {seen}"
    print("ok")
    """)
    assert "ok" in out


def test_stop_halted_keeps_a_killed_waiting_users_client_halted():
    out = run(LOCAL_RUNNER + """
    class Client:
        halted = False

    clients = []

    class U(User):
        wait_time = constant(30)  # the user is waiting when the stop comes: Locust kills it

        def on_start(self):
            self.client = Client()
            clients.append(self.client)

        @task
        def once(self):
            pass

        def stop(self, force=False):
            return internals.stop_halted(super().stop, self.client, force)

    env = Environment(user_classes=[U], stop_timeout=5)
    runner = env.create_local_runner()
    runner.start(1, spawn_rate=1)
    gevent.sleep(0.3)
    runner.stop()
    assert clients and clients[0].halted is True, "a user killed while waiting must stay halted"
    print("ok")
    """)
    assert "ok" in out


def test_set_tasks_after_the_metaclass_changes_what_users_run():
    out = run(LOCAL_RUNNER + """
    ran = []

    def old(user):
        ran.append("old")

    def new(user):
        ran.append("new")

    U = type("U", (User,), {"tasks": [old], "wait_time": constant(0.01), "__module__": "x"})
    internals.set_tasks(U, [new, new])
    env = Environment(user_classes=[U])
    runner = env.create_local_runner()
    runner.start(1, spawn_rate=1)
    gevent.sleep(0.3)
    runner.quit()
    assert ran and set(ran) == {"new"}, f"tasks rewritten after class creation were not used: {ran[:5]}"
    print("ok")
    """)
    assert "ok" in out


def test_leftover_greenlets_are_found_by_module_and_killed():
    out = run(LOCAL_RUNNER + """
    class U(User):
        wait_time = constant(0.05)

        @task
        def t(self):
            pass

    env = Environment(user_classes=[U])
    runner = env.create_local_runner()
    runner.start(2, spawn_rate=100)
    gevent.sleep(0.3)
    found = internals.leftover_greenlets()
    assert len(found) >= 2, f"Locust's greenlets no longer run functions of locust.* modules: {found}"
    internals.kill_greenlets()
    assert internals.leftover_greenlets() == [], "kill_greenlets left some alive"
    print("ok")
    """)
    assert "ok" in out


@pytest.mark.parametrize("name", ["events.init_command_line_parser", "events.test_stopping", "events.test_stop",
                                  "events.quitting", "events.init"])
def test_the_public_events_the_plugin_uses_exist(name):
    run(f"""
        import locust
        assert getattr(locust.{name.split('.')[0]}, "{name.split('.')[1]}", None) is not None, "{name} is gone"
    """)


def test_default_args_are_built_once_where_a_worker_reads_them_per_option():
    out = run("""
        import inspect
        from locust import argument_parser
        from locust.runners import WorkerRunner
        from shopbench.locust_plugin import internals

        # Where the cost was: a worker's spawn message filters options against a parser built per key.
        assert "argument_parser.default_args_dict()" in inspect.getsource(WorkerRunner.handle_message)
        internals.cache_default_args()
        internals.cache_default_args()  # idempotent: one cache, not a cache of a cache
        first = argument_parser.default_args_dict()
        assert argument_parser.default_args_dict() is first and "num_users" in first and "spawn_rate" in first
        assert not hasattr(argument_parser.default_args_dict.__wrapped__, "cache_info")
        print(argument_parser.default_args_dict.cache_info().misses)
    """)
    assert out.strip() == "1"


def test_green_zmq_sockets_recheck_for_a_missed_message_within_a_fraction_of_a_second():
    out = run("""
        import zmq.green
        from shopbench.locust_plugin import internals

        assert zmq.green.Socket._gevent_bug_timeout > 10  # pyzmq's own: a missed wake-up costs 11.6 s
        internals.prompt_zmq_reads()
        print(zmq.green.Socket._gevent_bug_timeout)
    """)
    assert float(out) == 0.2


def test_a_workers_spawn_greenlet_runs_ahead_of_the_greenlets_already_queued():
    # 2,000 greenlets queued to run, each back in the queue after a little work (a loaded worker's
    # users). Locust's spawn greenlet queues behind all of them; ours starts at the loop's next turn.
    out = run(LOCAL_RUNNER + """
    import json
    import time
    from locust.rpc import Message
    from shopbench.processes import free_port

    internals.spawn_ahead()
    internals.spawn_ahead()  # idempotent: one wrapper, not a wrapper of a wrapper

    class U(User):
        wait_time = constant(60)

        @task
        def t(self):
            pass

    port = free_port()
    master = Environment(user_classes=[U]).create_master_runner("127.0.0.1", port)
    worker = Environment(user_classes=[U]).create_worker_runner("127.0.0.1", port)
    ran = []

    def busy(i):
        for _ in range(5):
            sum(range(10_000))
            ran.append(i)
            gevent.sleep(0)

    backlog = [gevent.spawn(busy, i) for i in range(2000)]
    started_after = []
    start_worker = worker.start_worker
    worker.start_worker = lambda counts, **kw: (started_after.append(len(ran)), start_worker(counts, **kw))
    worker.handle_message(Message("spawn", {"timestamp": time.time(), "user_classes_count": {"U": 5},
                                            "host": None, "stop_timeout": None, "parsed_options": {}}, None))
    gevent.joinall(backlog)
    print(json.dumps([started_after[0], worker.user_count, "spawn" in vars(worker.greenlet)]))
    worker.quit()
    master.quit()
    """)
    started_after, users, group_patched = json.loads(out)
    assert started_after < 1000, out  # Locust's own: after all 2,000
    assert users == 5 and not group_patched, out
