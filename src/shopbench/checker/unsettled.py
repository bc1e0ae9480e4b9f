"""An anomaly stands only on entities that were stable when re-read (settle.py re-reads what the
check blames): the entities an anomaly rests on (`Links`), and the ledger's findings without those
resting on an entity still changing at the settle deadline (`withhold_unsettled`, from
`state.json`'s `settle.unstable`: the same verdict live and in `shopbench check`). Pure functions."""

from __future__ import annotations

from typing import Any

KINDS = ("orders", "items", "users")
Key = tuple[str, str]  # (kind, id)
HISTORY_ONLY = frozenset({"expected_fail_but_ok"})  # anomalies the history proves without the state


class Links:
    """The entities an anomaly rests on: those it names, and those an order links them to (an
    order's user and items; a user's or an item's orders)."""

    def __init__(self, state: dict[str, Any]):
        self.orders: dict[str, dict[str, Any]] = state.get("orders") or {}
        self.by_user: dict[str, list[str]] = {}
        self.by_item: dict[str, list[str]] = {}
        for order_id, order in self.orders.items():
            self.by_user.setdefault(str(order.get("user_id")), []).append(order_id)
            for item_id in items_of(order):
                self.by_item.setdefault(item_id, []).append(order_id)
        self.users = list(state.get("users") or {})

    def of(self, anomaly: dict[str, Any]) -> set[Key]:
        kind = anomaly.get("type")
        if kind in HISTORY_ONLY:
            return set()
        keys: set[Key] = set()
        if kind == "money_drift":  # the total of every user's credit
            keys |= {("users", u) for u in self.users} | {("orders", o) for o in self.orders}
        for name, entity_kind in (("order_id", "orders"), ("user_id", "users"), ("item_id", "items")):
            if anomaly.get(name) is not None:
                keys.add((entity_kind, str(anomaly[name])))
        for name, value in anomaly.items():
            if name.endswith("_orders") and isinstance(value, list):
                keys |= {("orders", str(o)) for o in value}
        for entity_kind, entity_id in list(keys):
            if entity_kind == "users":
                keys |= {("orders", o) for o in self.by_user.get(entity_id, ())}
            elif entity_kind == "items":
                keys |= {("orders", o) for o in self.by_item.get(entity_id, ())}
            elif entity_id in self.orders:
                order = self.orders[entity_id]
                keys.add(("users", str(order.get("user_id"))))
                keys |= {("items", i) for i in items_of(order)}
        return keys


def items_of(order: dict[str, Any]) -> list[str]:
    return [str(line[0]) for line in order.get("items") or () if isinstance(line, list | tuple) and line]


def withhold_unsettled(ledger: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """The ledger's findings without the anomalies that rest on an entity still changing when it was
    re-read (`state.settle.unstable`): those move to `unsettled_anomalies` with an UNKNOWN reason."""
    unstable = (state.get("settle") or {}).get("unstable") or {}
    bad = {(kind, entity_id) for kind, ids in unstable.items() for entity_id in ids}
    if not bad:
        return ledger
    links = Links(state)
    keep: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for anomaly in ledger.get("anomalies") or []:
        (held if links.of(anomaly) & bad else keep).append(anomaly)
    if not held:
        return ledger
    out = dict(ledger)
    out["anomalies"], out["unsettled_anomalies"] = keep, held
    out["anomaly_count"] = int(ledger.get("anomaly_count", len(keep) + len(held))) - len(held)
    types = dict(ledger.get("anomaly_types") or {})
    for anomaly in held:
        types[anomaly["type"]] = types.get(anomaly["type"], 1) - 1
    out["anomaly_types"] = {t: n for t, n in types.items() if n > 0}
    if "anomalies_listed" in out:
        out["anomalies_listed"] = len(keep)
    if "valid" in out:
        out["valid"] = out["anomaly_count"] == 0
    held_items = {str(a.get("item_id")) for a in held}
    if "oversold_items" in out:  # an oversell on a stock still changing is not known either
        out["oversold_items"] = [i for i in out["oversold_items"] if i not in held_items]
    kinds = sorted({a["type"] for a in held})
    ids = sorted(f"{kind[:-1]} {entity_id}" for kind, entity_id in bad)
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    n = len(held)
    out["unknown_reasons"] = [*(ledger.get("unknown_reasons") or []), (
        f"{n} {'anomaly' if n == 1 else 'anomalies'} ({', '.join(kinds)}) rest on entities that were still "
        f"changing when re-read until the settle deadline ({shown}): the state may have been read mid-change, "
        f"so {'it is' if n == 1 else 'they are'} listed in unsettled_anomalies, not counted as a loss; raise "
        "--settle-timeout to give the shop longer to settle")]
    return out
