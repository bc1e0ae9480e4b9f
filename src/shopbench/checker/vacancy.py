"""The vacancy checker: what seed 004's CRUD-and-list workload must never see, judged on the history.

For each vacancy whose create was acknowledged (ok), with real time taken from the calls' invocation
(t0) and completion (t1):

  lost_vacancy         a call invoked after the create completed, and completed before any delete
                       was invoked, answered NOT_FOUND: an acknowledged vacancy was not readable
  stale_read           a get (or a list entry) invoked after an update completed returned an older
                       version than that update acknowledged
  read_after_delete    after a delete completed ok, a get or update invoked later found it
  listed_after_delete  after a delete completed ok, a list invoked later still showed it
  phantom_vacancy      lists showed more unknown ids than creates that may have happened (info)
                       could explain: ids that were never created

Indeterminate calls (type info) are handled as the ledger does: an info create may or may not have
made a vacancy (so it can explain one unknown id), an info update may have raised the version (it
never lowers what a read must see), an info delete may have happened (reads invoked after it may
miss the vacancy). Ids listed by the runner's baseline read (scenario "baseline") existed before
the run and are not judged. Every anomaly names the vacancy and carries its timeline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

OK, FAIL, INFO = "ok", "fail", "info"
NOT_FOUND = 5
CREATE, UPDATE, GET, DELETE, LIST = "CreateVacancy", "UpdateVacancy", "GetVacancy", "DeleteVacancy", "GetVacancies"
BASELINE = "baseline"
MAX_TIMELINE = 50


def _timeline(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps in the shape `checker.explain` gives the ledger's anomalies (the report reads it), plus
    the version a call saw or made."""
    ordered = sorted(ops, key=lambda o: o["t0"])[:MAX_TIMELINE]
    first = ordered[0]["wall"] if ordered else 0.0
    steps = []
    for op in ordered:
        value = op.get("value") or {}
        step = {"at": round(op["wall"] - first, 3), "op": op["id"], "process": op["process"], "f": op["f"],
                "args": op.get("args") or {}, "type": op["type"], "status": op.get("status"),
                "latency_ms": round((op["t1"] - op["t0"]) * 1000, 2),
                "error": str(op["error"])[:160] if op.get("error") else None}
        if "version" in value:
            step["version"] = value["version"]
        steps.append(step)
    return steps


def _floor(acked: list[tuple[float, int]], t0: float) -> int:
    """The highest version acknowledged (completed) before `t0`: a read invoked then must see it."""
    return max((version for t1, version in acked if t1 < t0), default=0)


def check_vacancies(ops: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The `vacancy` verdict section."""
    ops = [op for op in ops if op["f"] in (CREATE, UPDATE, GET, DELETE, LIST) and not
           (op.get("scenario") or "").startswith("auth:")]
    created: dict[str, dict[str, Any]] = {}
    maybe_created = 0
    per_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    listed: dict[str, list[tuple[dict[str, Any], int]]] = defaultdict(list)
    baseline: set[str] = set()
    for op in ops:
        value = op.get("value") or {}
        if op["f"] == CREATE:
            if op["type"] == OK:
                created[value["id"]] = op
                per_id[value["id"]].append(op)
            elif op["type"] == INFO:
                maybe_created += 1
        elif op["f"] == LIST:
            if op["type"] != OK:
                continue
            for vid, version in (value.get("vacancies") or {}).items():
                if op.get("scenario") == BASELINE:
                    baseline.add(vid)
                listed[vid].append((op, version))
        else:
            vid = (op.get("args") or {}).get("id")
            if vid:
                per_id[vid].append(op)

    anomalies: list[dict[str, Any]] = []

    def flag(kind: str, vid: str, message: str, culprit: dict[str, Any], **extra: Any) -> None:
        anomalies.append({"type": kind, "vacancy": vid, "message": message, "op": culprit["id"], **extra,
                          "timeline": _timeline(per_id[vid] + [op for op, _ in listed.get(vid, ())])})

    for vid, create in created.items():
        mine = per_id[vid]
        deletes = [o for o in mine if o["f"] == DELETE and o["type"] in (OK, INFO)]
        first_delete_inv = min((o["t0"] for o in deletes), default=float("inf"))
        acked_delete = min((o["t1"] for o in deletes if o["type"] == OK), default=None)
        # (completion, version) of every acknowledged write: a read invoked later must see at least it
        # (a service without versions gets no stale-read check: there is nothing to compare)
        acked = sorted((t1, v) for t1, v in [(create["t1"], create["value"].get("version"))] +
                       [(o["t1"], o["value"].get("version")) for o in mine
                        if o["f"] == UPDATE and o["type"] == OK and o.get("value")] if v is not None)

        for o in mine:
            if o is create:
                continue
            if (o["type"] == FAIL and o.get("status") == NOT_FOUND and o["t0"] > create["t1"]
                    and o["t1"] < first_delete_inv):
                flag("lost_vacancy", vid, f"vacancy {vid} was created (acknowledged) and not deleted, but {o['f']} "
                     f"(op {o['id']}) answered NOT_FOUND", o)
            if acked_delete is not None and o["t0"] > acked_delete and o["type"] == OK and o["f"] in (GET, UPDATE):
                flag("read_after_delete", vid, f"vacancy {vid} was deleted (acknowledged), yet {o['f']} "
                     f"(op {o['id']}) invoked later found it", o)
            elif o["f"] == GET and o["type"] == OK and o.get("value"):
                need = _floor(acked, o["t0"])
                got = o["value"].get("version")
                if got is not None and got < need:
                    flag("stale_read", vid, f"GetVacancy (op {o['id']}) of vacancy {vid} returned version {got} "
                         f"after an update to version {need} had been acknowledged", o, got=got, expected_at_least=need)
        for lop, version in listed.get(vid, ()):
            if acked_delete is not None and lop["t0"] > acked_delete:
                flag("listed_after_delete", vid, f"vacancy {vid} was deleted (acknowledged), yet GetVacancies "
                     f"(op {lop['id']}) invoked later listed it", lop)
                continue
            need = _floor(acked, lop["t0"])
            if version is not None and version < need:
                flag("stale_read", vid, f"GetVacancies (op {lop['id']}) listed vacancy {vid} at version {version} "
                     f"after an update to version {need} had been acknowledged", lop, got=version,
                     expected_at_least=need)

    unknown_ids = sorted(vid for vid in listed if vid not in created and vid not in baseline)
    if len(unknown_ids) > maybe_created:
        for vid in unknown_ids:
            flag("phantom_vacancy", vid, f"vacancy {vid} was listed but never created: {len(unknown_ids)} unknown "
                 f"ids were listed and only {maybe_created} indeterminate create(s) could explain them",
                 listed[vid][0][0])

    by_type: dict[str, int] = defaultdict(int)
    for a in anomalies:
        by_type[a["type"]] += 1
    section: dict[str, Any] = {
        "valid": not anomalies, "anomalies": anomalies, "anomaly_types": dict(by_type),
        "counts": {"created": len(created), "maybe_created": maybe_created,
                   "deleted": sum(1 for o in ops if o["f"] == DELETE and o["type"] == OK),
                   "reads": sum(1 for o in ops if o["f"] == GET), "lists": sum(1 for o in ops if o["f"] == LIST),
                   "indeterminate": sum(1 for o in ops if o["type"] == INFO)},
    }
    if not created:
        section["unknown_reasons"] = ["no vacancy create was acknowledged: the vacancy checks had nothing to judge "
                                      "(run longer, or see why every CreateVacancy failed)"]
    return section
