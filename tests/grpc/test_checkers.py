"""The vacancy and auth checkers on hand-written histories: right ones pass, each kind of wrong one
is named, with the vacancy and its timeline; indeterminate calls are given the benefit of the doubt."""

from __future__ import annotations

import itertools
from typing import Any

from shopbench.checker.auth import check_auth
from shopbench.checker.vacancy import check_vacancies

_ids = itertools.count()


def op(f: str, t0: float, t1: float, type_: str = "ok", *, vid: str | None = None, version: int | None = None,
       status: int | None = None, listed: dict[str, int] | None = None, scenario: str | None = "crud",
       process: str = "u1") -> dict[str, Any]:
    value = None
    if type_ == "ok":
        if f == "GetVacancies":
            value = {"vacancies": listed or {}, "total": len(listed or {})}
        elif f != "DeleteVacancy":
            value = {"id": vid, "version": version}
    args = {"page": 1, "limit": 100} if f == "GetVacancies" else ({} if f == "CreateVacancy" else {"id": vid})
    if status is None:
        status = {"ok": 0, "fail": 5, "info": 4}[type_]
    return {"id": next(_ids), "process": process, "f": f, "args": args, "expect": None, "type": type_,
            "status": status, "value": value, "error": None if type_ == "ok" else "x", "wall": 1000 + t0,
            "t0": t0, "t1": t1, "intended": None, "scenario": scenario}


def flow(vid: str, start: float = 0.0) -> list[dict[str, Any]]:
    return [op("CreateVacancy", start, start + 1, vid=vid, version=1),
            op("UpdateVacancy", start + 2, start + 3, vid=vid, version=2),
            op("GetVacancy", start + 4, start + 5, vid=vid, version=2),
            op("DeleteVacancy", start + 6, start + 7, vid=vid),
            op("GetVacancy", start + 8, start + 9, "fail", vid=vid)]


def types(section: dict[str, Any]) -> list[str]:
    return sorted(a["type"] for a in section["anomalies"])


def test_a_correct_history_passes() -> None:
    ops = flow("a") + flow("b", 1.5) + [op("GetVacancies", 3.5, 3.6, listed={"a": 2, "b": 1})]
    section = check_vacancies(ops)
    assert section["valid"] and not section["anomalies"] and "unknown_reasons" not in section
    assert section["counts"]["created"] == 2


def test_nothing_created_is_unknown_not_valid() -> None:
    section = check_vacancies([op("GetVacancies", 0, 1, listed={})])
    assert section["valid"] and section["unknown_reasons"]


def test_stale_read_after_acknowledged_update() -> None:
    ops = flow("a")
    ops[2] = op("GetVacancy", 4, 5, vid="a", version=1)
    section = check_vacancies(ops)
    assert types(section) == ["stale_read"]
    a = section["anomalies"][0]
    assert a["vacancy"] == "a" and a["got"] == 1 and a["expected_at_least"] == 2
    assert [e["f"] for e in a["timeline"]][:3] == ["CreateVacancy", "UpdateVacancy", "GetVacancy"]


def test_an_old_version_during_the_update_is_no_anomaly() -> None:
    """A get invoked before the update completed may see either version."""
    ops = [op("CreateVacancy", 0, 1, vid="a", version=1), op("UpdateVacancy", 2, 5, vid="a", version=2),
           op("GetVacancy", 3, 4, vid="a", version=1)]
    assert check_vacancies(ops)["valid"]


def test_an_indeterminate_update_never_lowers_the_floor() -> None:
    ops = [op("CreateVacancy", 0, 1, vid="a", version=1), op("UpdateVacancy", 2, 3, "info", vid="a"),
           op("GetVacancy", 4, 5, vid="a", version=1), op("GetVacancy", 6, 7, vid="a", version=2)]
    assert check_vacancies(ops)["valid"]


def test_stale_version_in_a_list() -> None:
    ops = flow("a")[:2] + [op("GetVacancies", 3.5, 3.6, listed={"a": 1})]
    assert types(check_vacancies(ops)) == ["stale_read"]


def test_lost_vacancy() -> None:
    ops = flow("a")
    ops[2] = op("GetVacancy", 4, 5, "fail", vid="a")
    section = check_vacancies(ops)
    assert types(section) == ["lost_vacancy"]
    assert section["anomalies"][0]["vacancy"] == "a"


def test_not_found_after_an_indeterminate_delete_is_no_anomaly() -> None:
    ops = [op("CreateVacancy", 0, 1, vid="a", version=1), op("DeleteVacancy", 2, 3, "info", vid="a"),
           op("GetVacancy", 4, 5, "fail", vid="a"), op("GetVacancy", 6, 7, vid="a", version=1)]
    assert check_vacancies(ops)["valid"]


def test_read_and_listed_after_acknowledged_delete() -> None:
    ops = flow("a")
    ops[4] = op("GetVacancy", 8, 9, vid="a", version=2)
    ops.append(op("GetVacancies", 10, 11, listed={"a": 2}))
    section = check_vacancies(ops)
    assert types(section) == ["listed_after_delete", "read_after_delete"]
    assert all(a["vacancy"] == "a" and a["timeline"] for a in section["anomalies"])


def test_list_concurrent_with_the_delete_may_show_it() -> None:
    ops = flow("a") + [op("GetVacancies", 6.5, 7.5, listed={"a": 2})]
    assert check_vacancies(ops)["valid"]


def test_phantom_vacancy_unless_an_indeterminate_create_explains_it() -> None:
    ops = flow("a") + [op("GetVacancies", 10, 11, listed={"ghost": 1})]
    section = check_vacancies(ops)
    assert types(section) == ["phantom_vacancy"] and section["anomalies"][0]["vacancy"] == "ghost"
    ops.append(op("CreateVacancy", 9, 9.5, "info"))
    assert check_vacancies(ops)["valid"]


def test_baseline_vacancies_are_not_phantoms() -> None:
    ops = [op("GetVacancies", -2, -1, listed={"old": 3}, scenario="baseline", process="state")] + flow("a") + [
        op("GetVacancies", 10, 11, listed={"old": 3})]
    assert check_vacancies(ops)["valid"]


def probe(rpc: str, case: str, status: int, type_: str = "fail") -> dict[str, Any]:
    return {"id": next(_ids), "process": "probe", "f": rpc, "args": {"case": case}, "expect": "fail",
            "type": type_, "status": status, "value": None, "error": "x", "wall": 0, "t0": 0, "t1": 0,
            "intended": None, "scenario": f"auth:{case}"}


def test_auth_refused_everywhere_passes() -> None:
    section = check_auth([probe(r, c, 16) for r in ("GetVacancy", "CreateVacancy") for c in ("none", "malformed")])
    assert section["valid"] and section["probed"]["GetVacancy"] == {"none": "UNAUTHENTICATED",
                                                                    "malformed": "UNAUTHENTICATED"}


def test_auth_not_enforced_names_the_rpc() -> None:
    section = check_auth([probe("GetVacancy", "none", 16), probe("DeleteVacancy", "expired", 5),
                          probe("GetVacancies", "malformed", 0, "ok")])
    assert not section["valid"]
    assert sorted((a["rpc"], a["case"], a["got"]) for a in section["anomalies"]) == [
        ("DeleteVacancy", "expired", "NOT_FOUND"), ("GetVacancies", "malformed", "OK")]


def test_auth_unanswered_probe_or_missing_case_is_unknown() -> None:
    section = check_auth([probe("GetVacancy", "none", 14, "info")], not_probed=["expired tokens were not probed"])
    assert section["valid"] and len(section["unknown_reasons"]) == 2
    assert check_auth([])["unknown_reasons"]


def test_a_service_without_versions_is_still_checked_for_deletes() -> None:
    ops = flow("a")
    for o in ops:
        if o.get("value"):
            o["value"]["version"] = None
    ops[4] = op("GetVacancy", 8, 9, vid="a", version=None)
    assert types(check_vacancies(ops)) == ["read_after_delete"]


# -- seed 004's API: no version field; contents (and updated_at) say which write a read saw ----------------
def seed_op(f: str, t0: float, t1: float, vid: str, digest: str | None = None, updated: int | None = None,
            type_: str = "ok") -> dict[str, Any]:
    o = op(f, t0, t1, type_, vid=vid)
    if type_ == "ok" and f != "DeleteVacancy":
        o["value"] = {"id": vid, "digest": digest, **({"updated_at": updated} if updated is not None else {})}
    return o


def seed_flow(read_digest: str, read_updated: int | None = None, updated: bool = True) -> list[dict[str, Any]]:
    u = (lambda n: n) if updated else (lambda n: None)
    return [seed_op("CreateVacancy", 0, 1, "a", "A", u(10)), seed_op("UpdateVacancy", 2, 3, "a", "B", u(20)),
            seed_op("GetVacancy", 4, 5, "a", read_digest, read_updated)]


def test_without_versions_a_read_of_superseded_contents_is_stale() -> None:
    section = check_vacancies(seed_flow("A", 10))
    [a] = section["anomalies"]
    assert a["type"] == "stale_read" and a["by"] == "contents and updated_at"
    assert "CreateVacancy" in a["message"] and "UpdateVacancy" in a["message"]
    assert section["checks"]["stale_read"] == "by contents and updated_at (the API has no version field)"
    assert check_vacancies(seed_flow("B", 20))["valid"]


def test_without_updated_at_the_contents_alone_decide() -> None:
    section = check_vacancies(seed_flow("A", updated=False))
    assert types(section) == ["stale_read"] and section["anomalies"][0]["by"] == "contents"
    assert section["checks"]["stale_read"] == "by contents (the API has neither a version nor updated_at)"


def test_updated_at_tells_apart_writes_with_equal_contents() -> None:
    """A Views-only update keeps the contents' digest; its updated_at still tells the reads apart."""
    ops = [seed_op("CreateVacancy", 0, 1, "a", "A", 10), seed_op("UpdateVacancy", 2, 3, "a", "A", 20),
           seed_op("GetVacancy", 4, 5, "a", "A", 10)]
    assert types(check_vacancies(ops)) == ["stale_read"]
    ops[2] = seed_op("GetVacancy", 4, 5, "a", "A", 20)
    assert check_vacancies(ops)["valid"]


def test_a_read_during_the_update_may_see_either_contents() -> None:
    ops = [seed_op("CreateVacancy", 0, 1, "a", "A", 10), seed_op("UpdateVacancy", 2, 5, "a", "B", 20),
           seed_op("GetVacancy", 3, 4, "a", "A", 10)]
    assert check_vacancies(ops)["valid"]


def test_a_read_matching_no_acknowledged_write_is_counted_not_judged() -> None:
    ops = seed_flow("A", 10)[:1] + [seed_op("UpdateVacancy", 2, 3, "a", type_="info"),
                                    seed_op("GetVacancy", 4, 5, "a", "C", 30)]
    section = check_vacancies(ops)
    assert section["valid"] and section["counts"]["reads_not_matched"] == 1


def test_a_listed_entry_of_superseded_contents_is_stale() -> None:
    ops = seed_flow("B", 20)[:2] + [op("GetVacancies", 4, 5, listed={"a": {"digest": "A", "updated_at": 10}})]
    section = check_vacancies(ops)
    assert types(section) == ["stale_read"] and "GetVacancies" in section["anomalies"][0]["message"]


def test_the_checks_the_answers_allow() -> None:
    assert check_vacancies(flow("a"))["checks"]["stale_read"] == "by version"
    bare = flow("a")
    for o in bare:
        if o.get("value"):
            o["value"] = {"id": "a"}
    assert check_vacancies(bare)["checks"]["stale_read"].startswith("not run")


def test_auth_public_rpcs_are_discovered_not_flagged() -> None:
    public = probe("SignUpUser", "none", 3)
    public["args"]["expected"] = "public"
    section = check_auth([public, probe("GetVacancies", "none", 16), probe("GetMe", "none", 0, "ok")])
    assert [(a["rpc"], a["case"]) for a in section["anomalies"]] == [("GetMe", "none")]
    assert section["needs_token"] == ["GetVacancies"]
    assert section["answers_without_token"] == ["GetMe", "SignUpUser"] and section["expected_public"] == ["SignUpUser"]
    public_only = check_auth([public])
    assert public_only["valid"] and "--public" in public_only["unknown_reasons"][0]
