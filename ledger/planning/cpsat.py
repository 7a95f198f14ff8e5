"""Re-planning the open book with OR-Tools CP-SAT.

Each order gets a capped list of candidate options (``options``), generated against the network's
capacity less the slots of ``fixed`` plans. The CP-SAT model has one boolean per option, at most one
per order, and for every (site, resource, day) the chosen options' use within its free slots. The
objective places as many orders as possible weighted by priority (one more placement outweighs any
earliness), then prefers early infusions.

A whole book in one model grows worse than linearly in solve time, so a big book is solved as a
rolling horizon: orders sorted by their earliest apheresis day, cut into chunks of ``chunk``
orders; each chunk is solved together with the first ``look_ahead`` orders of the next one (so an
early chunk does not take every slot a later order needs) and only the chunk's own plans are
committed before moving on. Each model's size is bounded by ``(chunk + look_ahead) x
max_candidates``, so the whole is linear in orders. A longer look-ahead places slightly more orders
and costs superlinearly more solver time (measured in docs/PLANNING.md).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ortools.sat.python import cp_model

from .constraints import Slot, check_plan, usage
from .model import Plan
from .network import Network, OrderRequest
from .options import Option, apheresis_days, day_options, earliness

NO_ROUTE = "no_route"
"""No candidate at all: no open apheresis day in the window with a route, free slots and stability."""
CAPACITY = "capacity"
"""Candidates existed, but their slots went to other (higher-priority or earlier) orders."""
NOT_SOLVED = "not_solved"
"""The solver found no solution within the time limit."""

MAX_CANDIDATES = 40
CHUNK = 50
LOOK_AHEAD = 10
"""Orders of the next chunk solved with each chunk (see the module docstring for the trade-off)."""


@dataclass(frozen=True)
class ReplanResult:
    placed: dict[str, Plan]
    """New plans by order id (the ``fixed`` plans are not repeated here)."""
    unplaced: dict[str, str]
    """Order id -> reason (``NO_ROUTE``, ``CAPACITY`` or ``NOT_SOLVED``)."""
    status: str
    """The worst CP-SAT status over the chunks: ``OPTIMAL`` only if every chunk was solved optimally."""
    seconds: float = 0.0
    candidates: int = 0
    chunks: int = 0
    stats: dict = field(default_factory=dict)


Progress = Callable[[int, int], None]
"""Called after each chunk with (orders decided so far, orders in all)."""


def candidates(network: Network, order: OrderRequest, *, free: Mapping[Slot, int],
               not_before: datetime | None = None, cap: int = MAX_CANDIDATES,
               routes: dict | None = None) -> list[Option]:
    """Up to ``cap`` options of ``order`` over ``free`` slots: per (apheresis day, plant, start day)
    only the earliest-arriving route (they use the same slots), then the earliest ``cap`` of those.

    ``routes`` caches a day's routes per (treating site, product, day) across orders: they depend on
    nothing else, and a book has many orders per site and day."""
    def fits(slot: Slot) -> bool:
        return free.get(slot, 0) > 0

    routes = {} if routes is None else routes
    best: dict[tuple, Option] = {}
    for day in apheresis_days(network, order, not_before):
        key = (order.treating_site, order.product, day)
        if key not in routes:
            routes[key] = day_options(network, order, day, fits)
        for option in routes[key]:
            slot = (option.apheresis_day, option.plant, option.start_day)
            if slot not in best or earliness(option) < earliness(best[slot]):
                best[slot] = option
    return sorted(best.values(), key=earliness)[:cap]


def replan(network: Network, orders: Iterable[OrderRequest], *, fixed: Mapping[str, Plan] | None = None,
           time_limit_s: float = 30.0, progress: Progress | None = None, workers: int = 2,
           max_candidates: int = MAX_CANDIDATES, chunk: int = CHUNK, look_ahead: int = LOOK_AHEAD,
           not_before: datetime | None = None) -> ReplanResult:
    """Place ``orders`` around the ``fixed`` plans (kept as they are, keyed by order id).

    Orders also present in ``fixed`` are not re-planned; ``not_before`` bounds every new plan's
    cells-ready time from below. ``time_limit_s`` is shared out over the chunks by their size. Every
    returned plan passes ``constraints.check_plan``, and with ``fixed`` they respect capacity.
    """
    started = time.perf_counter()
    fixed = dict(fixed or {})
    book = {o.id: o for o in orders}
    free = Counter(network.capacity)
    for order_id, plan in fixed.items():
        if order_id not in book:
            raise ValueError(f"fixed plan {order_id} has no order request")
        free.subtract(usage(network, book[order_id], plan))
    open_orders = sorted((o for o in book.values() if o.id not in fixed), key=lambda o: (o.earliest, -o.priority, o.id))
    routes: dict = {}
    options = {o.id: candidates(network, o, free=free, not_before=not_before, cap=max_candidates, routes=routes)
               for o in open_orders}

    chunk = max(1, chunk)
    parts = [open_orders[i:i + chunk] for i in range(0, len(open_orders), chunk)] or [[]]
    placed: dict[str, Plan] = {}
    unplaced: dict[str, str] = {}
    statuses: list[str] = []
    for index, part in enumerate(parts):
        ahead = parts[index + 1][:look_ahead] if index + 1 < len(parts) else []
        share = time_limit_s * len(part) / max(1, len(open_orders))
        picked, status = _solve(part + ahead, options, free, max(share, 0.5), workers)
        statuses.append(status)
        for order in part:
            option = picked.get(order.id)
            if option is None:
                unplaced[order.id] = (NO_ROUTE if not options[order.id]
                                      else NOT_SOLVED if status not in ("OPTIMAL", "FEASIBLE") else CAPACITY)
                continue
            plan = option.plan(order.treating_site)
            broken = check_plan(network, order, plan, not_before=not_before)
            if broken:  # never expected: options follow the same time model
                raise AssertionError(f"re-planner produced an invalid plan for {order.id}: {broken}")
            placed[order.id] = plan
            free.subtract(option.slots)
        if progress:
            progress(len(placed) + len(unplaced), len(open_orders))
    worst = next((s for s in ("MODEL_INVALID", "UNKNOWN", "INFEASIBLE", "FEASIBLE") if s in statuses), "OPTIMAL")
    return ReplanResult(placed, unplaced, worst, time.perf_counter() - started,
                        sum(len(v) for v in options.values()), len(parts), {"chunk_status": Counter(statuses)})


def _solve(orders: Sequence[OrderRequest], options: Mapping[str, list[Option]], free: Mapping[Slot, int],
           time_limit_s: float, workers: int) -> tuple[dict[str, Option], str]:
    """One CP-SAT model over ``orders``: the chosen option per placed order, and the status name.

    The status is ``OPTIMAL`` when no solution can place more priority-weighted orders (earliness
    within that is improved, not proven)."""
    usable = {o.id: [opt for opt in options[o.id] if all(free.get(s, 0) > 0 for s in opt.slots)] for o in orders}
    greedy = _greedily(orders, usable, free)
    if len(greedy) == sum(1 for o in orders if usable[o.id]):
        return greedy, "OPTIMAL"  # every order with a candidate is placed: only earliness could move
    model = cp_model.CpModel()
    chosen: dict[str, list[tuple[cp_model.IntVar, Option]]] = {}
    rows: dict[Slot, list[cp_model.IntVar]] = defaultdict(list)
    span = {o.id: max(((opt.infusion_from - o.earliest).days for opt in usable[o.id]), default=0) for o in orders}
    weight = 1 + sum(span.values())  # one more placement outweighs all earliness together
    terms = []
    for order in orders:
        made = []
        for k, option in enumerate(usable[order.id]):
            var = model.new_bool_var(f"{order.id}#{k}")
            made.append((var, option))
            model.add_hint(var, greedy.get(order.id) is option)
            for slot in option.slots:
                rows[slot].append(var)
            terms.append(var * (weight * (1 + max(order.priority, 0)) + span[order.id]
                                - (option.infusion_from - order.earliest).days))
        if made:
            model.add_at_most_one(v for v, _ in made)
        chosen[order.id] = made
    for slot, used_by in rows.items():
        if len(used_by) > free[slot]:
            model.add(sum(used_by) <= free[slot])
    model.maximize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    # Stop once no solution can place more (priority-weighted) orders: the gap is then below one
    # placement's weight, and only earliness could still improve.
    solver.parameters.absolute_gap_limit = weight - 1
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return {}, solver.status_name(status)
    picked = {order_id: opt for order_id, made in chosen.items() for var, opt in made if solver.value(var)}
    return picked, solver.status_name(status)


def _greedily(orders: Sequence[OrderRequest], usable: Mapping[str, list[Option]],
              free: Mapping[Slot, int]) -> dict[str, Option]:
    """The solver's first solution: by priority, then earliest day, each order takes its earliest
    option that still fits."""
    left = Counter({k: v for k, v in free.items() if v > 0})
    taken: dict[str, Option] = {}
    for order in sorted(orders, key=lambda o: (-o.priority, o.earliest)):
        for option in usable[order.id]:
            if all(left[s] > 0 for s in option.slots):
                left.subtract(option.slots)
                taken[order.id] = option
                break
    return taken
