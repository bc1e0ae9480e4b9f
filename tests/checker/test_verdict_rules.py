"""verdict.py's rules, one by one: the three values, how sections merge, the sentences a user reads."""

from __future__ import annotations

from shopbench.checker.verdict import (
    INVALID,
    SEED_SHAPE_NOTE,
    UNKNOWN,
    VALID,
    VERDICT_VERSION,
    add_sections,
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
    assert (v["result"], v["valid"], v["version"], v["checker"]) == (VALID, True, VERDICT_VERSION, "ledger")
    assert "ledger_valid" not in v  # verdict v3: the ledger counts through anomaly_count
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
    assert v["result"] == INVALID and v["anomaly_count"] == 1 and v["unknown_reasons"] == ["incomplete"]
    assert exit_code(v) == EXIT_INVALID


def test_sections_merge_failed_unknown_and_warnings_once_each():
    v = assemble(ledger(), {"settled": True}, extra={
        "slo": {"valid": False, "unknown_reasons": ["r1"], "warnings": ["w1"]},
        "faults": {"valid": True, "unknown_reasons": ["r1", "r2"], "warnings": ["w1", "w2"]},
        "faults_not_fired": [{"index": 0}],  # a figures list: kept; fault_landing judges it
    })
    assert v["failed_sections"] == ["slo"] and v["unknown_reasons"] == ["r1", "r2"]
    assert v["warnings"] == ["w1", "w2"] and v["faults_not_fired"] == [{"index": 0}]
    assert v["result"] == INVALID
    again = add_sections(v, {"slo": {"valid": False}})  # the same failed section merged twice is listed once
    assert again["failed_sections"] == ["slo"]


def test_add_sections_on_a_bare_verdict_and_a_section_not_understood():
    import pytest

    from shopbench.checker.verdict import SectionError

    v = add_sections({}, {"load": {"unknown_reasons": ["no users started"]}})
    assert v["result"] == UNKNOWN and v["failed_sections"] == []
    v = add_sections({"anomaly_count": 1}, {})
    assert v["result"] == INVALID
    for bad in (["a list that is no figures"], {"valid": "no"}, {"unknown_reasons": "one string"}):
        with pytest.raises(SectionError):
            add_sections({}, {"notes": bad})


def test_judge_and_result_of_read_old_files_too():
    assert judge({})["result"] == VALID and judge({"failed_sections": ["x"]})["result"] == INVALID
    assert judge({"unknown_reasons": ["r"]})["valid"] is False
    assert result_of({"result": "unknown", "valid": False}) == UNKNOWN
    assert result_of({"valid": True}) == VALID and result_of({"valid": False}) == INVALID
    assert result_of({"result": "bogus", "valid": True}) == VALID and result_of({}) == INVALID
    assert [exit_code({"result": r}) for r in (VALID, INVALID, UNKNOWN)] == [EXIT_VALID, EXIT_INVALID, EXIT_UNKNOWN]


def test_assemble_writes_exactly_the_contracts_fields_and_starts_sections_afresh():
    led = {**ledger(), "failed_sections": ["stale"]}
    del led["seed_inputs"]
    v = assemble(led, None)
    assert v["seed_metrics"] is None and v["seed_inputs"] is None and v["failed_sections"] == []
    assert sorted(v) == ["anomalies", "anomaly_count", "anomaly_types", "checker", "failed_sections", "result",
                         "seed_inputs", "seed_metrics", "unknown_reasons", "valid", "version", "warnings"]


def test_sections_after_a_figures_list_still_count_and_a_bare_verdict_gets_its_lists():
    v = add_sections({}, {"faults": [{"fault": 0}], "slo": {"valid": False, "warnings": ["w"]}})
    assert v["failed_sections"] == ["slo"] and v["warnings"] == ["w"] and v["result"] == INVALID
    assert v["faults"] == [{"fault": 0}] and "ledger_valid" not in v
    assert add_sections({}, {})["result"] == VALID


def test_a_section_not_understood_is_named_with_its_field_and_value():
    import pytest

    from shopbench.checker.verdict import SectionError

    cases = {
        "notes": (["a list"], "verdict section 'notes' is a list, not a dict: a section says \"valid\": false or "
                              "\"unknown_reasons\": [...], and one not understood is never skipped"),
        "slo": ({"valid": "no"}, "verdict section 'slo': 'valid' must be true or false, got 'no'"),
        "load": ({"unknown_reasons": [""]}, "verdict section 'load': 'unknown_reasons' must be a list of "
                                            "sentences, got ['']"),
        "faults_x": ({"warnings": [1]}, "verdict section 'faults_x': 'warnings' must be a list of sentences, got [1]"),
        "auth": ({"unknown_reasons": "one"}, "verdict section 'auth': 'unknown_reasons' must be a list of sentences, "
                                             "got 'one'"),
    }
    for name, (section, message) in cases.items():
        with pytest.raises(SectionError) as caught:
            add_sections({}, {name: section})
        assert str(caught.value) == message


def test_assemble_verdict_counts_the_anomalies_of_a_checker_that_does_not():
    from shopbench.checker.verdict import assemble_verdict

    found = [{"type": "vacancy_lost", "message": "m"}, {"type": "auth_open", "message": "m"},
             {"type": "vacancy_lost", "message": "m"}]
    v = assemble_verdict("grpc", {"anomalies": found, "warnings": ["w"]})  # no "valid", no counts
    assert v["anomaly_count"] == 3 and v["anomaly_types"] == {"vacancy_lost": 2, "auth_open": 1}
    assert v["result"] == INVALID and v["valid"] is False and v["anomalies"] == found
    v = assemble_verdict("grpc", {"anomalies": found[:1], "anomaly_count": 40, "anomaly_types": {"x": 40}})
    assert v["anomaly_count"] == 40 and v["anomaly_types"] == {"x": 40}
    assert assemble_verdict("grpc", {})["result"] == VALID
