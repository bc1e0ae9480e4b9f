"""The verdict's one rule for sections (checker/verdict.py): a section that is not understood is an
error, never skipped; `result` is the one validity field; REST and gRPC verdicts come from one
assembler."""

import pytest

from shopbench.checker.verdict import (
    INVALID,
    UNKNOWN,
    VALID,
    SectionError,
    add_sections,
    assemble,
    assemble_verdict,
    exit_code,
    result_of,
)

LEDGER_CLEAN = {"valid": True, "anomalies": [], "anomaly_count": 0, "anomaly_types": {}, "unknown_reasons": []}


@pytest.mark.parametrize("section", [["kill_triggers[0] never fired"], "never fired", 3, None])
def test_a_section_that_is_not_a_dict_is_an_error(section):
    with pytest.raises(SectionError, match="'mystery' is a .*not a dict.*never skipped"):
        add_sections({"anomaly_count": 0}, {"mystery": section})


@pytest.mark.parametrize("section, match", [
    ({"valid": "no"}, "'valid' must be true or false"),
    ({"valid": 0}, "'valid' must be true or false"),
    ({"unknown_reasons": "not a list"}, "'unknown_reasons' must be a list of sentences"),
    ({"unknown_reasons": [None]}, "'unknown_reasons' must be a list of sentences"),
    ({"unknown_reasons": [""]}, "'unknown_reasons' must be a list of sentences"),
    ({"warnings": [3]}, "'warnings' must be a list of sentences"),
])
def test_a_dict_section_with_keys_it_cannot_read_is_an_error(section, match):
    with pytest.raises(SectionError, match=match):
        add_sections({"anomaly_count": 0}, {"slo": section})


def test_figure_lists_are_the_only_lists_and_carry_no_judgement():
    verdict = add_sections({"anomaly_count": 0}, {"faults": [{"fault": 0}], "faults_not_fired": []})
    assert result_of(verdict) == VALID and verdict["faults"] == [{"fault": 0}]
    with pytest.raises(SectionError):
        add_sections({"anomaly_count": 0}, {"fault_landing": []})


def test_each_key_of_a_section_moves_the_result():
    assert result_of(add_sections({"anomaly_count": 0}, {"s": {"valid": True}})) == VALID
    assert result_of(add_sections({"anomaly_count": 0}, {"s": {"valid": False}})) == INVALID
    unknown = add_sections({"anomaly_count": 0}, {"s": {"unknown_reasons": ["could not judge: use --x"]}})
    assert result_of(unknown) == UNKNOWN and unknown["unknown_reasons"] == ["could not judge: use --x"]
    warned = add_sections({"anomaly_count": 0}, {"s": {"warnings": ["a saturated generator"]}})
    assert result_of(warned) == VALID and warned["warnings"] == ["a saturated generator"]
    both = add_sections({"anomaly_count": 2}, {"s": {"unknown_reasons": ["x"]}})
    assert result_of(both) == INVALID  # certain stays INVALID whatever else is unknown


def test_result_is_the_one_validity_field_and_valid_follows_it():
    clean = assemble(dict(LEDGER_CLEAN), {"settled": True})
    assert (clean["result"], clean["valid"], exit_code(clean)) == (VALID, True, 0)
    assert "ledger_valid" not in clean
    found = assemble({**LEDGER_CLEAN, "valid": False, "anomaly_count": 1,
                      "anomalies": [{"type": "stock_drift", "message": "m"}]}, {"settled": True})
    assert (found["result"], found["valid"], exit_code(found)) == (INVALID, False, 1)
    unsettled = assemble(dict(LEDGER_CLEAN), {"settled": False})
    assert (unsettled["result"], unsettled["valid"], exit_code(unsettled)) == (UNKNOWN, False, 4)
    assert "raise --settle-timeout" in unsettled["unknown_reasons"][0]
    # a late section (SLOs judged after the ledger) recomputes the same field
    add_sections(clean, {"slo": {"valid": False}})
    assert (clean["result"], clean["valid"], clean["failed_sections"]) == (INVALID, False, ["slo"])


def test_one_assembler_for_rest_and_grpc_findings():
    anomalies = [{"type": "lost_delete", "message": "m"}, {"type": "lost_delete", "message": "n"}]
    grpc = assemble_verdict("grpc", {"anomalies": anomalies}, {"vacancy": {"valid": True}})
    assert grpc["checker"] == "grpc" and grpc["anomaly_count"] == 2
    assert grpc["anomaly_types"] == {"lost_delete": 2} and grpc["result"] == INVALID
    rest = assemble_verdict("ledger", dict(LEDGER_CLEAN), {"load": {"unknown_reasons": ["incomplete: re-run"]}})
    assert rest["result"] == UNKNOWN and rest["version"] == grpc["version"]
