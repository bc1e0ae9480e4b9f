"""verdict.py's rules, one by one: the three values, how sections merge, the sentences a user reads."""

from __future__ import annotations

from shopbench.checker.verdict import (
    INVALID,
    SEED_SHAPE_NOTE,
    UNKNOWN,
    VALID,
    VERDICT_VERSION,
    add_sections,
    add_unknown,
    assemble,
    exit_code,
    judge,
    result_of,
)
from shopbench.errors import EXIT_INVALID, EXIT_UNKNOWN, EXIT_VALID

SEED_INPUTS = {"initial_stock": 10, "initial_stock_value": 30, "initial_credit": 100, "final_stock": 4,
               "final_credit": 82, "first_item": "0", "first_item_stock": 4, "success_checkouts": 6,
               "success_units": 6, "success_cost": 18}


def ledger(valid: bool = True, reasons: list[str] | None = None) -> dict:
    return {"valid": valid, "unknown_reasons": list(reasons or []), "anomalies": [], "anomaly_count": 0 if valid else 1,
            "seed_inputs": dict(SEED_INPUTS)}


def test_a_clean_ledger_on_a_settled_state_is_valid_with_the_seeds_numbers():
    v = assemble(ledger(), {"settled": True, "reads": 3, "settle": {"stopped": "quiet"}})
    assert (v["result"], v["valid"], v["ledger_valid"], v["version"], v["checker"]) == (VALID, True, True,
                                                                                       VERDICT_VERSION, "ledger")
    assert v["seed_metrics"] == {"stock_log": -4, "stock_db": -4, "payment_log": 12, "payment_db": 12}
    assert v["seed_inputs"] == SEED_INPUTS and "seed_metrics_note" not in v
    assert v["settled"] is True and v["state_reads"] == 3 and v["settle"] == {"stopped": "quiet"}
    assert v["failed_sections"] == [] and v["warnings"] == [] and v["unknown_reasons"] == []
    assert exit_code(v) == EXIT_VALID


def test_a_stress_run_leaves_the_seeds_numbers_out_and_says_why():
    v = assemble(ledger(), None, seed_shape=False)
    assert v["seed_metrics"] is None and v["seed_metrics_note"] == SEED_SHAPE_NOTE
    assert v["seed_inputs"] == SEED_INPUTS and "settled" not in v and v["result"] == VALID


def test_an_unsettled_shop_is_unknown_with_how_long_it_was_given():
    settle = {"seconds": 7.5, "reads": 12, "deadline_s": 7.0, "indeterminate_ops": 40}
    v = assemble(ledger(), {"settled": False, "settle": settle})
    assert v["result"] == UNKNOWN and v["valid"] is False and exit_code(v) == EXIT_UNKNOWN
    assert v["unknown_reasons"] == [
        "the shop did not settle after 7.5 s and 12 reads (deadline 7.0 s: --settle-timeout plus time for 40 "
        "indeterminate operations): its state was still changing when it was read, so the final state may be "
        "mid-change (raise --settle-timeout)"]
    v = assemble(ledger(), {})  # no settle record at all
    assert v["unknown_reasons"] == [
        "the shop did not settle: its state was still changing when it was read, so the final state may be "
        "mid-change (raise --settle-timeout)"]
    assert v["settled"] is False


def test_the_ledgers_reasons_are_copied_not_shared():
    led = ledger(reasons=["a reason"])
    v = assemble(led, {"settled": False})
    assert v["unknown_reasons"][0] == "a reason" and len(v["unknown_reasons"]) == 2
    assert led["unknown_reasons"] == ["a reason"]


def test_an_anomaly_is_invalid_whatever_else_is_unknown():
    v = assemble(ledger(valid=False, reasons=["incomplete"]), {"settled": True})
    assert v["result"] == INVALID and v["ledger_valid"] is False and v["unknown_reasons"] == ["incomplete"]
    assert exit_code(v) == EXIT_INVALID


def test_sections_merge_failed_unknown_and_warnings_once_each():
    v = assemble(ledger(), {"settled": True}, extra={
        "slo": {"valid": False, "unknown_reasons": ["r1"], "warnings": ["w1"]},
        "faults": {"valid": True, "unknown_reasons": ["r1", "r2"], "warnings": ["w1", "w2"]},
        "notes": ["a list section is kept, and judged by nothing"],
    })
    assert v["failed_sections"] == ["slo"] and v["unknown_reasons"] == ["r1", "r2"]
    assert v["warnings"] == ["w1", "w2"] and v["notes"] == ["a list section is kept, and judged by nothing"]
    assert v["result"] == INVALID
    again = add_sections(v, {"slo": {"valid": False}})  # the same failed section merged twice is listed once
    assert again["failed_sections"] == ["slo"]


def test_add_sections_on_a_bare_verdict_and_add_unknown():
    v = add_sections({"valid": True}, {"load": {"unknown_reasons": ["no users started"]}})
    assert v["result"] == UNKNOWN and v["ledger_valid"] is True and v["failed_sections"] == []
    v = add_sections({"valid": False}, {})
    assert v["result"] == INVALID and v["ledger_valid"] is False
    v = add_unknown({"valid": True, "ledger_valid": True}, "a fault did not land")
    v = add_unknown(v, "a fault did not land")
    assert v["unknown_reasons"] == ["a fault did not land"] and v["result"] == UNKNOWN


def test_judge_and_result_of_read_old_files_too():
    assert judge({})["result"] == VALID and judge({"failed_sections": ["x"]})["result"] == INVALID
    assert judge({"unknown_reasons": ["r"]})["valid"] is False
    assert result_of({"result": "unknown", "valid": False}) == UNKNOWN
    assert result_of({"valid": True}) == VALID and result_of({"valid": False}) == INVALID
    assert result_of({"result": "bogus", "valid": True}) == VALID and result_of({}) == INVALID
    assert [exit_code({"result": r}) for r in (VALID, INVALID, UNKNOWN)] == [EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN]
