"""The stress summary's figures from a history: exact percentiles per operation, failures by the one
rule (history.unexpected), and error causes grouped with their ids masked."""

from __future__ import annotations

from rich.console import Console

from shopbench.report.terminal import error_cause, print_operations, stress_figures


def op(f, ms, kind="ok", status=200, expect=None, scenario=None, error=None, process="l-u1", wall=100.0):
    return {"f": f, "type": kind, "status": status, "expect": expect, "scenario": scenario, "error": error,
            "process": process, "wall": wall, "t0": 0.0, "t1": ms / 1000.0}


def test_ids_are_masked_so_one_cause_is_one_row():
    a = error_cause(404, 'no such route: DELETE /orders/removeItem/3c87642f84fb4a128a80bac9892d3d8e/17')
    b = error_cause(404, 'no such route: DELETE /orders/removeItem/0b8e0f1a2c3d4e5f6a7b8c9d0e1f2a3b/2044')
    assert a == b == "404: no such route: DELETE /orders/removeItem/#/#"
    assert error_cause(400, "user 6f1c2a4e-3b5d-4c6e-8f70-1a2b3c4d5e6f has 12 credit") == "400: user # has # credit"
    assert error_cause(None, "connection refused") == "no answer: connection refused"
    assert error_cause(500, None) == "500"


def test_figures_per_operation_from_the_history():
    ops = [op("checkout", ms, wall=100.0 + i / 10) for i, ms in enumerate(range(1, 101))]  # 1..100 ms
    ops += [op("remove_item", 5, "fail", 404, expect="ok", error=f"no such route /orders/removeItem/{i}")
            for i in range(30)]
    ops += [op("checkout", 7, "fail", 400, scenario="race:hot-item", error="out of stock")]  # a right answer
    ops += [op("checkout", 9, "fail", 400, expect="fail", scenario="checkout-no-credit")]  # expected
    ops += [op("find_order", 900, "fail", 404, process="settle")]  # not load
    figures = stress_figures(ops)
    assert set(figures.ops) == {"checkout", "remove_item"}
    checkout = figures.ops["checkout"]
    assert (checkout.requests, checkout.failures) == (102, 0)
    assert figures.ops["remove_item"].failures == 30
    assert figures.causes == {("remove_item", "404: no such route /orders/removeItem/#"): 30}
    assert 9.9 < figures.duration < 10.2
    console = Console(record=True, width=200)
    print_operations(console, figures)
    text = console.export_text()
    row = next(line for line in text.splitlines() if line.startswith("│ checkout"))
    cells = [c.strip() for c in row.strip("│").split("│")]
    # nearest rank over 1..100 plus 7 and 9 (102 values): ranks 51, 97, 101 -> 49, 95, 99 ms
    assert cells == ["checkout", "102", f"{102 / figures.duration:,.1f}", "0", "49.0", "95.0", "99.0"]
    assert "30 (100.0%)" in text and "exact percentiles" in text
    assert text.count("404: no such route /orders/removeItem/#") == 1
