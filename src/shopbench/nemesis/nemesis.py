"""The nemesis: a background thread that watches a fault plan's triggers and fires each once.

    with Nemesis(plan, backend, timeline_path=run.file("faults.jsonl"), monitor=monitor):
        ...  # the load runs
    # here every trigger is stopped, every fault ended, every service running and resumed

Each fired trigger starts one *fault* per service, in its own thread: apply the action through
the backend (which verifies it landed: `landed`, `evidence` and `landed_s`, from the trigger
firing to the fault taking effect, go to the timeline), hold it for its hold time (the earliest
of `recovery_time` and `duration`; none means until the run ends), then recover exactly what
was hit and wait until it is healthy. `restart` and `resume` are complete in themselves and need
no recovery.

Guaranteed restore: whatever ends the run, every service the nemesis killed or paused is running
and resumed when shopbench exits. Three layers, because each covers what the others cannot:
`__exit__`/`stop()` (normal end and exceptions in the block), SIGINT/SIGTERM handlers installed
while the nemesis runs (they restore first, then hand the signal on: to the previous Python
handler, e.g. KeyboardInterrupt for Ctrl-C, or as SystemExit(128+signal) where the default would
have killed us without running any finally-block), and an `atexit` hook (an exit that skipped
the block, e.g. sys.exit from another thread's doing). Restoring is idempotent. A fourth covers
what none of these can, shopbench itself SIGKILLed: before a pause, a backend with `hold` (the
local one) registers the tree with the restore guardian (processes/guardian.py), which resumes it
if shopbench dies before the recovery `release`s it.
"""

from __future__ import annotations

import atexit
import itertools
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopbench.errors import UsageError
from shopbench.nemesis.backends.base import ERROR, OK, Backend, Hit
from shopbench.nemesis.config import FaultPlan, Trigger
from shopbench.nemesis.network import NETWORK_ACTIONS
from shopbench.nemesis.timeline import NEEDS_RECOVERY, Timeline, fault_windows
from shopbench.nemesis.triggers import LoadView, is_due

RECOVER_ACTION = {"kill": "start", "terminate": "start", "pause": "resume", **{a: "heal" for a in NETWORK_ACTIONS}}


@dataclass
class _Fault:
    id: int
    index: int
    trigger: Trigger
    service: str
    reading: float
    fired_at: float = field(default_factory=time.time)  # wall clock when the trigger fired
    hits: list[Hit] = field(default_factory=list)
    recovered: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def trigger_record(self) -> dict[str, Any]:
        return {"index": self.index, "type": self.trigger.type, "threshold": self.trigger.threshold,
                "value": round(self.reading, 3)}


class Nemesis:
    def __init__(
        self,
        plan: FaultPlan,
        backend: Backend,
        timeline_path: str | Path | None = None,
        monitor: LoadView | None = None,
        *,
        started: float | None = None,
        tick: float = 0.01,
        handle_signals: bool = True,
        listener: Callable[[dict[str, Any]], None] | None = None,
        join_timeout: float = 120.0,
    ):
        if monitor is None:
            needs = sorted({t.type for t in plan.triggers if t.type != "time"})
            if needs:
                raise UsageError(f"{plan.source}: {', '.join(needs)} triggers need live load figures, "
                                 f"which this run does not provide; use time triggers.")
        self.plan = plan
        self.backend = backend
        self.monitor = monitor
        self.timeline = Timeline(timeline_path)
        self.tick = tick
        self.handle_signals = handle_signals
        self.listener = listener
        self.join_timeout = join_timeout
        self.started = started
        self.fired: dict[int, float] = {}  # trigger index -> elapsed seconds when it fired
        self._faults: dict[int, _Fault] = {}
        self._ids = itertools.count()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._guard = threading.RLock()
        self._running = False
        self._restoring = False
        self._pending_signal: int | None = None
        self._prev_handlers: dict[int, Any] = {}

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> Nemesis:
        if self._running:
            return self
        self._running = True
        if self.started is None:
            self.started = time.monotonic()
        atexit.register(self._at_exit)
        self._install_signal_handlers()
        self._watcher = threading.Thread(target=self._watch, name="nemesis", daemon=True)
        self._watcher.start()
        return self

    def elapsed(self) -> float:
        return time.monotonic() - (self.started or time.monotonic())

    def stop(self) -> None:
        """Stop firing, end every fault and restore every service it hit; safe to call twice."""
        with self._guard:
            if self._restoring:
                return
            self._restoring = True
        prev_handlers = dict(self._prev_handlers)
        try:
            self._stop.set()
            if self._watcher is not None:
                self._watcher.join(timeout=5.0)
            deadline = time.monotonic() + self.join_timeout
            for worker in list(self._workers):
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
            # Whatever a worker could not finish (it died, or is stuck in the backend) is restored here.
            for fault in list(self._faults.values()):
                self._recover(fault, "run end")
        finally:
            self._running = False
            self._uninstall_signal_handlers()
            atexit.unregister(self._at_exit)
            with self._guard:
                self._restoring = False
        pending, self._pending_signal = self._pending_signal, None
        if pending is not None:
            self._hand_on(pending, None, prev_handlers.get(pending))

    def __enter__(self) -> Nemesis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- results -----------------------------------------------------------------------------
    @property
    def entries(self) -> list[dict[str, Any]]:
        return list(self.timeline.entries)

    def windows(self) -> list[dict[str, Any]]:
        return fault_windows(self.timeline.entries)

    def active(self) -> list[str]:
        """The faults in force now, as "action service" (for live progress)."""
        return [f"{f.trigger.action} {f.service}" for f in list(self._faults.values()) if f.hits and not f.recovered]

    def unrestored(self) -> list[str]:
        """Services a fault hit whose recovery did not succeed (should be empty after stop)."""
        return sorted({f.service for f in self._faults.values() if not f.recovered})

    # -- the watcher ---------------------------------------------------------------------------
    def _watch(self) -> None:
        triggers = self.plan.triggers
        while not self._stop.is_set() and len(self.fired) < len(triggers):
            elapsed = self.elapsed()
            for index, trig in enumerate(triggers):
                if index in self.fired:
                    continue
                try:
                    due, value = is_due(trig, self.monitor, elapsed)
                except Exception:  # noqa: BLE001 - a monitor hiccup must not kill the nemesis
                    continue
                if due:
                    self._fire(index, trig, value, elapsed)
            self._stop.wait(self.tick)

    def _fire(self, index: int, trig: Trigger, value: float, elapsed: float) -> None:
        self.fired[index] = elapsed
        if self.monitor is not None and hasattr(self.monitor, "faults_fired"):
            self.monitor.faults_fired += 1
        # A network fault hits links (its `service` is the link's name), one fault per link.
        for service in trig.links if trig.action in NETWORK_ACTIONS else trig.services:
            fault = _Fault(next(self._ids), index, trig, service, value)
            with self._guard:
                if self._stop.is_set():
                    return
                self._faults[fault.id] = fault
                worker = threading.Thread(target=self._run_fault, args=(fault,), name=f"fault-{fault.id}")
                self._workers.append(worker)
            worker.start()

    def _run_fault(self, fault: _Fault) -> None:
        action = fault.trigger.action
        start = time.time()
        try:
            if action in NETWORK_ACTIONS:
                hits = self.backend.apply_link(action, fault.service, fault.trigger)  # type: ignore[attr-defined]
            else:
                self._hold(action, fault.service)
                hits = self.backend.apply(action, fault.service, fault.trigger.count)
        except Exception as exc:  # noqa: BLE001 - recorded in the timeline, the run goes on
            hits = [Hit(None, ERROR, f"{type(exc).__name__}: {exc}")]
        end = time.time()
        fault.hits = hits
        for hit in hits:
            self._record(fault, action, "fault", hit, start, end, since=fault.fired_at)
        if action not in NEEDS_RECOVERY or not any(h.result == OK for h in hits):
            fault.recovered = True
            self._release(fault.service)
            return
        hold = fault.trigger.hold_time()
        stopped = self._stop.wait(hold)  # hold None: until the run ends
        if stopped:
            reason = "run end"
        else:
            trig = fault.trigger
            reason = "duration" if trig.duration is not None and hold == trig.duration else "recovery_time"
        self._recover(fault, reason)

    def _recover(self, fault: _Fault, reason: str) -> None:
        with fault.lock:
            if fault.recovered:
                return
            action = RECOVER_ACTION.get(fault.trigger.action, "restore")
            start = time.time()
            try:
                hits = self.backend.recover(fault.trigger.action, fault.service, fault.hits)
            except Exception as exc:  # noqa: BLE001
                hits = [Hit(None, ERROR, f"{type(exc).__name__}: {exc}")]
            end = time.time()
            # Marked before recording, so whoever sees the recover line also sees the fault as recovered.
            fault.recovered = all(h.result == OK for h in hits)
            if fault.recovered:
                self._release(fault.service)
            for hit in hits:
                self._record(fault, action, "recover", hit, start, end, reason, since=start)

    def _record(self, fault: _Fault, action: str, role: str, hit: Hit, start: float, end: float,
                reason: str | None = None, since: float | None = None) -> None:
        landed = hit.landed
        if landed is None:
            # A backend that cannot check (a fake, an old one) vouches only for what it performed.
            landed = hit.result == OK
        landed_s = None
        if landed and since is not None:
            landed_s = round(max(0.0, (hit.landed_at or end) - since), 4)
        entry = {
            "fault": fault.id, "trigger": fault.trigger_record(), "service": fault.service,
            "target": hit.target, "action": action, "role": role, "reason": reason,
            "start": start, "end": end, "result": hit.result, "error": hit.error,
            "landed": bool(landed), "evidence": hit.evidence or _default_evidence(hit), "landed_s": landed_s,
        }
        entry.update(getattr(hit, "extra", None) or {})  # network faults: link, landed, evidence, landed_s
        self.timeline.record(entry)
        if self.listener is not None:
            try:
                self.listener(entry)
            except Exception:  # noqa: BLE001, S110 - a display error must not stop a restore
                pass

    # -- guaranteed restore ----------------------------------------------------------------------
    def _hold(self, action: str, service: str) -> None:
        """Tell a backend that can (the local one) a fault is about to be held, so the restore
        guardian undoes it should shopbench be killed before it recovers."""
        hold = getattr(self.backend, "hold", None)
        if hold is not None:
            try:
                hold(action, service)
            except Exception:  # noqa: BLE001, S110 - the fault itself reports an unknown service
                pass

    def _release(self, service: str) -> None:
        release = getattr(self.backend, "release", None)
        if release is not None:
            try:
                release(service)
            except Exception:  # noqa: BLE001, S110
                pass

    def _at_exit(self) -> None:
        self.stop()

    def _install_signal_handlers(self) -> None:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._prev_handlers[sig] = signal.signal(sig, self._on_signal)
            except (ValueError, OSError):
                pass

    def _uninstall_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, prev in list(self._prev_handlers.items()):
            try:
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
            except (ValueError, OSError):
                pass
            self._prev_handlers.pop(sig, None)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._restoring:
            # A second Ctrl-C while restoring must not abandon a half-restored shop: remember it.
            self._pending_signal = signum
            return
        prev = self._prev_handlers.get(signum, signal.SIG_DFL)
        self.stop()
        self._hand_on(signum, frame, prev)

    def _hand_on(self, signum: int, frame: Any, prev: Any = None) -> None:
        if prev is None:
            prev = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
        if callable(prev):
            prev(signum, frame)
        elif prev == signal.SIG_IGN:
            return
        else:
            # The default action would end the process without running any finally-block;
            # SystemExit still ends it, but lets the run directory and the shop be closed first.
            raise SystemExit(128 + signum)


def _default_evidence(hit: Hit) -> str:
    if hit.result == OK:
        return "performed; the backend could not check its effect"
    return hit.error or hit.result
