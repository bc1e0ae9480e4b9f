"""Cut-off records protect the verdict (issue 19.5): when the load stops while requests to a slowed
service are in flight, the shop may still apply them. Each is recorded as `info` ("cut off: …"),
and the checker widens its interval: VALID. Without those records the same shop, the same final
state, is INVALID, money or stock "with no operation behind it". So a missing record is not
"treated as unknown": the history must hold every request that may have been applied."""

from __future__ import annotations

import pytest

from shopbench import check_ledger, result_of
from shopbench.checker.verdict import assemble

CUT = "cut off: user stopped by --stop-timeout (2 s) with the request in flight"


def op(i, f, args, kind="ok", value=None, process="locust-1", error=None):
    return {"id": i, "process": process, "f": f, "args": args, "expect": None, "type": kind,
            "status": {"ok": 200, "fail": 400}.get(kind), "value": value, "error": error,
            "wall": 1000.0 + i, "t0": 0.0, "t1": 0.01 if kind != "info" else 2.0}


def slowed_mix(f: str, landed: int, lost: int):
    """A funds (or inventory) mix against a slowed service: each of 4 users (items) got one answered
    add of 5, then one add of 3 that was in flight at the stop; `landed` of those the shop applied
    before it noticed the client was gone, `lost` it never got. Returns (history with the cut-off
    records, final state)."""
    kind_id, table, field = ("user_id", "users", "credit") if f == "add_funds" else ("item_id", "items", "stock")
    create = "create_user" if f == "add_funds" else "create_item"
    ops, state = [], {"users": {}, "items": {}, "orders": {}, "settled": True}
    for k in range(4):
        eid = f"e{k}"
        ops.append(op(len(ops), create, {} if create == "create_user" else {"price": 1}, value={kind_id: eid},
                      process="populate"))
        ops.append(op(len(ops), f, {kind_id: eid, "amount": 5}))
    for k in range(4):
        eid = f"e{k}"
        ops.append(op(len(ops), f, {kind_id: eid, "amount": 3}, "info", error=CUT))
        applied = k < landed
        state[table][eid] = {field: 5 + (3 if applied else 0), **({"price": 1} if table == "items" else {})}
    assert landed + lost == 4
    return ops, state


@pytest.mark.parametrize("f", ["add_funds", "add_stock"])
def test_missing_cut_off_records_flip_the_verdict(f):
    ops, state = slowed_mix(f, landed=2, lost=2)
    v = assemble(check_ledger(ops, state), state)
    assert result_of(v) == "valid", v["anomalies"]
    assert v["totals"]["money" if f == "add_funds" else "stock"]["expected"] == [20, 32]
    without = [o for o in ops if not (o.get("error") or "").startswith("cut off:")]
    v = assemble(check_ledger(without, state), state)
    assert result_of(v) == "invalid"
    drift = "user_credit_drift" if f == "add_funds" else "stock_drift"
    assert v["anomaly_types"] == {drift: 2}  # exactly the two entities whose request landed after the stop
    what = "money appeared" if f == "add_funds" else "stock appeared"
    assert all(f"3 {'more' if f == 'add_funds' else 'units more'} than expected: {what} with no operation behind it"
               in a["message"] for a in v["anomalies"]), [a["message"] for a in v["anomalies"]]


def test_cut_off_requests_that_never_landed_are_valid_too():
    for f in ("add_funds", "add_stock"):
        ops, state = slowed_mix(f, landed=0, lost=4)
        assert result_of(assemble(check_ledger(ops, state), state)) == "valid"
