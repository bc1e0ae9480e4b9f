"""The vacancy checker: what seed 004's CRUD-and-list workload must never see, judged on the history.

For each vacancy whose create was acknowledged (ok), with real time taken from the calls' invocation
(t0) and completion (t1):

  lost_vacancy         a call invoked after the create completed, and completed before any delete
                       was invoked, answered NOT_FOUND: an acknowledged vacancy was not readable
  stale_read           a get (or a list entry) invoked after an update completed showed something
                       older than that update: a lower version where the API has versions, else
                       the contents (and `updated_at`) of a write that update superseded
  read_after_delete    after a delete completed ok, a get or update invoked later found it
  listed_after_delete  after a delete completed ok, a list invoked later still showed it
  phantom_vacancy      lists showed more unknown ids than creates that may have happened (info)
                       could explain: ids that were never created

Indeterminate calls (type info) are handled as the ledger does: an info create may or may not have
made a vacancy (so it can explain one unknown id), an info update may have raised the version (it
never lowers what a read must see), an info delete may have happened (reads invoked after it may
miss the vacancy). Ids listed by the runner's baseline read (scenario "baseline") existed before
the run and are not judged. Every anomaly names the vacancy and carries its timeline. The section's
`checks` says which checks the API's answers allowed (seed 004's API has no version field).
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
    what a call saw or made (version, digest of the contents, updated_at)."""
    ordered = sorted(ops, key=lambda o: o["t0"])[:MAX_TIMELINE]
    first = ordered[0]["wall"] if ordered else 0.0
    steps = []
    for op in ordered:
        value = op.get("value") or {}
        step = {"at": round(op["wall"] - first, 3), "op": op["id"], "process": op["process"], "f": op["f"],
                "args": op.get("args") or {}, "type": op["type"], "status": op.get("status"),
                "latency_ms": round((op["t1"] - op["t0"]) * 1000, 2),
                "error": str(op["error"])[:160] if op.get("error") else None}
        for key in ("version", "digest", "updated_at"):
            if key in value:
                step[key] = value[key]
        steps.append(step)
    return steps


def _floor(acked: list[tuple[float, int]], t0: float) -> int:
    """The highest version acknowledged (completed) before `t0`: a read invoked then must see it."""
    return max((version for t1, version in acked if t1 < t0), default=0)


def _entry(x: Any) -> dict[str, Any]:
    """A listed vacancy's value (histories before digests listed a bare version)."""
    return x if isinstance(x, dict) else {"version": x}


def _identity(value: dict[str, Any]) -> tuple[Any, Any] | None:
    """Which write a read saw: the contents' digest, with `updated_at` where the API has it."""
    return (value["digest"], value.get("updated_at")) if value.get("digest") else None


class Stale:
    """Whether a read (invoked at `t0`, answering `value`) is older than a write acknowledged before
    it. With versions: below the highest version acknowledged before the read (`_floor`). Without:
    the read is matched to the write whose contents (and `updated_at`) it shows, and is stale when
    another write began after that one completed and completed before the read began (so it is
    later in every order the service could have applied them in). A read matching no acknowledged
    write (an indeterminate update's result, a service that rewrites fields) is not judged."""

    def __init__(self, writes: list[dict[str, Any]]):
        self.writes = writes  # acknowledged creates and updates with a value, of one vacancy
        self.acked = sorted((w["t1"], w["value"]["version"]) for w in writes if w["value"].get("version") is not None)
        self.unmatched = 0

    def check(self, t0: float, value: dict[str, Any]) -> tuple[str, str, Any, Any] | None:
        """(how, a sentence's tail, what it got, what it should have been at least) if stale."""
        got = value.get("version")
        if got is not None and self.acked:
            need = _floor(self.acked, t0)
            if got < need:
                return "version", f"version {got} after an update to version {need} had been acknowledged", got, need
            return None
        seen = _identity(value)
        if seen is None:
            return None
        matches = [w for w in self.writes if _identity(w["value"]) == seen]
        if not matches:
            self.unmatched += 1
            return None
        source = max(matches, key=lambda w: w["t1"])
        later = [w for w in self.writes if w["t0"] > source["t1"] and w["t1"] < t0 and _identity(w["value"]) != seen]
        if not later:
            return None
        newer = max(later, key=lambda w: w["t1"])
        how = "contents and updated_at" if seen[1] is not None else "contents"
        return (how, f"the contents written by {source['f']} (op {source['id']}) after {newer['f']} (op {newer['id']}, "
                f"begun once that one was acknowledged) had been acknowledged", source["id"], newer["id"])


def allowed_checks(reads: list[dict[str, Any]]) -> dict[str, str]:
    """Which checks the API's answers allow: the stale-read check needs a version, or the contents."""
    stale = "not run: the answers carry neither a version nor the vacancy's contents"
    if any(v.get("version") is not None for v in reads):
        stale = "by version"
    elif any(v.get("updated_at") is not None for v in reads):
        stale = "by contents and updated_at (the API has no version field)"
    elif any(v.get("digest") for v in reads):
        stale = "by contents (the API has neither a version nor updated_at)"
    ran = "ran"
    return {"lost_vacancy": ran, "stale_read": stale, "read_after_delete": ran, "listed_after_delete": ran,
            "phantom_vacancy": ran}


def check_vacancies(ops: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The `vacancy` verdict section."""
    ops = [op for op in ops if op["f"] in (CREATE, UPDATE, GET, DELETE, LIST) and not
           (op.get("scenario") or "").startswith("auth:")]
    created: dict[str, dict[str, Any]] = {}
    maybe_created = 0
    per_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    listed: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    baseline: set[str] = set()
    reads: list[dict[str, Any]] = []
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
            for vid, entry in (value.get("vacancies") or {}).items():
                if op.get("scenario") == BASELINE:
                    baseline.add(vid)
                listed[vid].append((op, _entry(entry)))
                reads.append(_entry(entry))
        else:
            vid = (op.get("args") or {}).get("id")
            if vid:
                per_id[vid].append(op)
            if op["f"] == GET and op["type"] == OK and value:
                reads.append(value)

    anomalies: list[dict[str, Any]] = []
    unmatched = 0

    def flag(kind: str, vid: str, message: str, culprit: dict[str, Any], **extra: Any) -> None:
        anomalies.append({"type": kind, "vacancy": vid, "message": message, "op": culprit["id"], **extra,
                          "timeline": _timeline(per_id[vid] + [op for op, _ in listed.get(vid, ())])})

    for vid, create in created.items():
        mine = per_id[vid]
        deletes = [o for o in mine if o["f"] == DELETE and o["type"] in (OK, INFO)]
        first_delete_inv = min((o["t0"] for o in deletes), default=float("inf"))
        acked_delete = min((o["t1"] for o in deletes if o["type"] == OK), default=None)
        stale = Stale([create] + [o for o in mine if o["f"] == UPDATE and o["type"] == OK and o.get("value")])

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
                found = stale.check(o["t0"], o["value"])
                if found:
                    how, tail, got, need = found
                    flag("stale_read", vid, f"GetVacancy (op {o['id']}) of vacancy {vid} returned {tail}", o,
                         by=how, got=got, expected_at_least=need)
        for lop, entry in listed.get(vid, ()):
            if acked_delete is not None and lop["t0"] > acked_delete:
                flag("listed_after_delete", vid, f"vacancy {vid} was deleted (acknowledged), yet GetVacancies "
                     f"(op {lop['id']}) invoked later listed it", lop)
                continue
            found = stale.check(lop["t0"], entry)
            if found:
                how, tail, got, need = found
                flag("stale_read", vid, f"GetVacancies (op {lop['id']}) listed vacancy {vid} with {tail}", lop,
                     by=how, got=got, expected_at_least=need)
        unmatched += stale.unmatched

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
        "checks": allowed_checks(reads),
        "counts": {"created": len(created), "maybe_created": maybe_created,
                   "deleted": sum(1 for o in ops if o["f"] == DELETE and o["type"] == OK),
                   "reads": sum(1 for o in ops if o["f"] == GET), "lists": sum(1 for o in ops if o["f"] == LIST),
                   "indeterminate": sum(1 for o in ops if o["type"] == INFO),
                   "reads_not_matched": unmatched},
    }
    if not created:
        section["unknown_reasons"] = ["no vacancy create was acknowledged: the vacancy checks had nothing to judge "
                                      "(run longer, or see why every CreateVacancy failed)"]
    return section
