"""The driver contract, checked at the door: a short probe of the operations a run needs, on
entities the probe creates, before any load (docs/shop-api.md is the contract in words).

    check_answer("find_order", data) -> None, or one sentence naming the operation, field and value
    probe(driver, {"checkout", "find_order"}) -> [sentence, ...]   (empty: every answer as agreed)
    operations_needed(mix=..., consistency=...) -> the operations a run of that kind sends

The probe's operations are sent by a driver the caller gives (shopbench's own runs give one
without a listener: they are not in the run's history, and touch only entities no later operation
names). A run whose probe finds a problem stops in its first second with the sentences, instead of
ending after the load with a verdict built on answers it misread.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from shopbench.driver.answers import AnswerProblem, canonical
from shopbench.driver.outcome import Outcome

# What each part of a run sends. The final-state read (the ledger check) reads every entity back.
CHECK_READS = frozenset({"find_item", "find_user", "find_order"})
POPULATE_API = frozenset({"create_item", "add_stock", "create_user", "add_funds"})
POPULATE_BATCH = frozenset({"batch_init_stock", "batch_init_users"})
MIX_NEEDS: dict[str, frozenset[str]] = {
    "seed000": POPULATE_API | {"create_order", "add_item", "remove_item", "checkout"},
    "inventory": frozenset({"create_item", "add_stock", "find_item"}),
    "order": POPULATE_API | {"create_order", "add_item", "checkout", "find_order"},
    "monitor": frozenset({"create_item", "add_stock", "find_item", "find_user", "find_order"}),
    "hot": POPULATE_API | {"create_order", "add_item", "checkout"},
    "probes": POPULATE_API | {"find_item", "find_user", "find_order", "subtract_stock", "pay", "create_order",
                              "add_item", "checkout"},
    "checkout-only": POPULATE_BATCH | {"batch_init_orders", "checkout"},
}
CONSISTENCY_NEEDS = frozenset({"create_order", "add_item", "checkout"})  # + populate: batch_init or create_*

PRICE, STOCK, CREDIT = 2, 3, 10  # what the probe's own item and user get: enough for one checkout


def operations_needed(mix: Iterable[str] | None = None, *, consistency: bool = False,
                      populate: str = "auto") -> set[str]:
    """The operations a run sends: its mix's (stress) or the burst's (consistency), how it populates,
    and the final-state reads every check needs."""
    need = set(CHECK_READS)
    for component in mix or ():
        need |= MIX_NEEDS.get(component, frozenset())
    if consistency:
        need |= CONSISTENCY_NEEDS | (POPULATE_BATCH if populate == "batch" else POPULATE_API)
    return need


def check_answer(operation: str, data: Any) -> str | None:
    """None when `data` (an answer's JSON) is readable as the contract's shape for `operation`;
    otherwise one sentence naming the operation, the field and the value."""
    try:
        canonical(operation, data)
    except AnswerProblem as exc:
        return f"{operation}: {exc}."
    return None


def _problem(f: str, out: Outcome) -> str:
    if out.kind == "info" and out.status is not None and 200 <= out.status < 300:
        return (out.error or f"{f}: unreadable answer").rstrip(".") + "."  # the answer's own sentence
    if out.kind == "fail" and out.status is not None:
        from shopbench.doctor.needs import avoid  # the flag that runs without it (doctor's one table)

        return (f"{f} answered {out.status} ({(out.error or '').strip()[:120]}) on entities the probe had just "
                f"created: check its route and arguments in your driver or mapping, or {avoid(f)}.")
    return f"{f} got no usable answer ({out.error}): the shop could not be probed."


# operation -> the operations that must run before it (what it acts on)
_BEFORE: dict[str, tuple[str, ...]] = {
    "add_stock": ("create_item",), "subtract_stock": ("create_item", "add_stock"), "find_item": ("create_item",),
    "add_funds": ("create_user",), "pay": ("create_user", "add_funds"), "find_user": ("create_user",),
    "create_order": ("create_user",), "add_item": ("create_order", "create_item"),
    "remove_item": ("add_item",), "find_order": ("add_item",),
    "checkout": ("add_item", "add_stock", "add_funds"),
}
_ORDER = ("create_item", "add_stock", "subtract_stock", "find_item", "create_user", "add_funds", "pay",
          "find_user", "create_order", "add_item", "remove_item", "find_order", "checkout")


def _with_prerequisites(operations: Collection[str]) -> set[str]:
    todo, done = list(operations), set()
    while todo:
        f = todo.pop()
        if f not in done:
            done.add(f)
            todo += _BEFORE.get(f, ())
    return done


def probe(driver: Any, operations: Collection[str] = _ORDER) -> list[str]:
    """Each of `operations` once (with what it needs first) on an item, a user and an order of its own;
    one sentence per operation that did not answer as the contract says. `batch_init_*` is never
    probed: it would re-create the run's own entities. An operation whose entity could not be made
    is skipped (the cause is already said)."""
    run = _with_prerequisites(operations)
    problems: list[str] = []
    made: dict[str, str] = {}

    def step(f: str, call: Callable[[], Outcome]) -> bool:
        out = call()
        if out.kind != "ok":
            problems.append(_problem(f, out))
            return False
        if f.startswith("create_"):
            made[f] = out.data[f.removeprefix("create_") + "_id"]
        return True

    steps: dict[str, Callable[[], Outcome]] = {
        "create_item": lambda: driver.create_item(PRICE),
        "add_stock": lambda: driver.add_stock(made["create_item"], STOCK),
        "subtract_stock": lambda: driver.subtract_stock(made["create_item"], 1),
        "find_item": lambda: driver.find_item(made["create_item"]),
        "create_user": lambda: driver.create_user(),
        "add_funds": lambda: driver.add_funds(made["create_user"], CREDIT),
        "pay": lambda: driver.pay(made["create_user"], 1),
        "find_user": lambda: driver.find_user(made["create_user"]),
        "create_order": lambda: driver.create_order(made["create_user"]),
        "add_item": lambda: driver.add_item(made["create_order"], made["create_item"], 1),
        # removed and added back, so the order still has a line to read and to check out
        "remove_item": lambda: _then(driver.remove_item(made["create_order"], made["create_item"]),
                                     lambda: driver.add_item(made["create_order"], made["create_item"], 1)),
        "find_order": lambda: driver.find_order(made["create_order"]),
        "checkout": lambda: driver.checkout(made["create_order"]),
    }
    failed: set[str] = set()
    for f in _ORDER:
        if f not in run:
            continue
        if failed & _with_prerequisites(_BEFORE.get(f, ())):
            failed.add(f)  # what it acts on could not be made: not probed, its cause already said
        elif not step(f, steps[f]):
            failed.add(f)
    return problems


def _then(first: Outcome, second: Callable[[], Outcome]) -> Outcome:
    return second() if first.kind == "ok" else first


def check_at_door(target: Any, operations: Collection[str], *, timeout: float = 5.0) -> None:
    """Probe `target` with the chosen driver (not recorded in any history) before the load; a
    TargetError with every problem found, in one message, if its answers break the contract."""
    from shopbench.driver import connect
    from shopbench.errors import TargetError

    driver = connect(target, None, timeout=timeout, concurrency=1, process="probe")
    try:
        problems = probe(driver, operations)
    finally:
        driver.transport.close()
    if problems:
        raise TargetError("the shop's answers break the driver contract (docs/shop-api.md), found by the probe "
                          "before any load: " + " ".join(problems))
