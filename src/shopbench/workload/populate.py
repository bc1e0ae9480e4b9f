"""Fill a shop with items and users: `batch_init` where the target has it, else one call per entity.

Every operation goes through the driver, so the history holds what the checker needs to know the
initial stock and credit (batch_init arguments, or create_* + add_* operations).
"""

from __future__ import annotations

from collections.abc import Callable

import gevent.pool

from shopbench.driver import Outcome, RestDriver
from shopbench.errors import TargetError, UsageError

MODES = ("auto", "batch", "api")
Advance = Callable[[int], None]


def _batch_refused(what: str, out: Outcome, mode: str) -> bool:
    """True when auto mode should fall back to one call per entity."""
    if out.kind == "ok":
        return False
    if out.kind == "fail" and mode == "auto":
        return True
    if out.kind == "fail":
        raise TargetError(f"--populate batch: the shop refused {what} ({out.status}: {(out.error or '')[:120]}); "
                          "use --populate api or auto.")
    raise TargetError(f"populate: {what} got no usable answer ({out.error}); it may or may not have taken effect, "
                      "so the run stops here. Check the shop and run again.")


def populate_items(driver: RestDriver, n: int, stock: int, price: int, *, mode: str, pool_size: int,
                   advance: Advance | None = None) -> tuple[list[str], str]:
    """The ids of `n` items with `stock` units at `price`, and the mode that made them."""
    if mode not in MODES:
        raise UsageError(f"--populate {mode!r}: choose one of {', '.join(MODES)}.")
    if mode != "api":
        out = driver.batch_init_stock(n, stock, price)
        if not _batch_refused(f"POST /stock/batch_init/{n}/{stock}/{price}", out, mode):
            if advance:
                advance(n)
            return [str(i) for i in range(n)], "batch"
    return create_each(n, lambda _: driver.create_item(price), "item_id",
                       (lambda _, iid: driver.add_stock(iid, stock)) if stock else None, pool_size, advance,
                       "populate items"), "api"


def populate_users(driver: RestDriver, n: int, credit: int, *, mode: str, pool_size: int,
                   advance: Advance | None = None) -> tuple[list[str], str]:
    if mode not in MODES:
        raise UsageError(f"--populate {mode!r}: choose one of {', '.join(MODES)}.")
    if mode != "api":
        out = driver.batch_init_users(n, credit)
        if not _batch_refused(f"POST /payment/batch_init/{n}/{credit}", out, mode):
            if advance:
                advance(n)
            return [str(i) for i in range(n)], "batch"
    return create_each(n, lambda _: driver.create_user(), "user_id",
                       (lambda _, uid: driver.add_funds(uid, credit)) if credit else None, pool_size, advance,
                       "populate users"), "api"


def create_each(n: int, create: Callable[[int], Outcome], key: str, fill: Callable[[int, str], object] | None,
                pool_size: int, advance: Advance | None, what: str) -> list[str]:
    """Create `n` entities concurrently (`create(slot)`, the new id under `key` in its answer), then
    `fill(slot, id)` each one; the ids that exist, in slot order. Not one created is a TargetError."""
    ids: list[str | None] = [None] * n
    errors: list[str] = []
    pool = gevent.pool.Pool(max(1, pool_size))

    def one(slot: int) -> None:
        out = create(slot)
        if out.kind == "ok":
            entity_id = str(out.data[key])
            # An indeterminate fill stays in the history, where it widens the checker's interval.
            if fill is not None:
                fill(slot, entity_id)
            ids[slot] = entity_id
        elif len(errors) < 3:
            errors.append(f"{out.status or ''} {out.error or ''}".strip())
        if advance:
            advance(1)

    for slot in range(n):
        pool.spawn(one, slot)
    pool.join()
    made = [i for i in ids if i is not None]
    if n and not made:
        raise TargetError(f"{what}: could not create a single one ({'; '.join(errors)[:200]}).")
    return made
