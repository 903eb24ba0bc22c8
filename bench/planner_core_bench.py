"""Benchmark of the pure planning core: synthetic Ningxia, 10k/1k and 100k/5k.

Prints, per size: time to build the inputs, candidate generation, graph build, solve, lower
bounds and due dates, the whole `plan_month` call, its peak traced memory and the process's
peak RSS, and the plan's cost, lower bounds, optimality gap, unassigned count and contacts.
It also re-plans the result to show that a second plan changes nothing. Figures only: no
assertion on time.

    python bench/planner_core_bench.py            # both sizes
    python bench/planner_core_bench.py --size 10000:1000
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from datetime import date

import numpy as np

from scheduler.model import ElderIn, ExistingVisit, PlanInput, WorkerIn
from scheduler.planner import plan_month

LAT = (35.2, 39.4)
LON = (104.2, 107.7)
TIERS = np.array(["standard", "elevated", "high"])
TIER_SHARE = (0.7, 0.2, 0.1)
KM_LAT = 1 / 111.0  # degrees of latitude per km


def synthetic(
    n_elders: int, n_workers: int, seed: int = 7, slack: float = 1.25
) -> tuple[list[ElderIn], list[WorkerIn]]:
    """Elders and workers clustered into grids of about two workers, five grids a community.

    Each elder's primary and secondary contacts are two workers of the elder's grid, chosen
    so that primaries are roughly balanced, as a grid office would (seven times in ten);
    capacities are scattered around each worker's primary load and add up to `slack` times
    the visits owed, so some primaries are over-subscribed and others nearly full.
    """
    rng = np.random.default_rng(seed)
    n_grids = max(n_workers // 2, 1)
    n_comms = max(n_grids // 5, 1)
    comm_lat = rng.uniform(*LAT, n_comms)
    comm_lon = rng.uniform(*LON, n_comms)
    grid_comm = rng.integers(0, n_comms, n_grids)
    km_lon = KM_LAT / np.cos(np.radians(comm_lat[grid_comm]))
    grid_lat = comm_lat[grid_comm] + rng.normal(0, 3, n_grids) * KM_LAT
    grid_lon = comm_lon[grid_comm] + rng.normal(0, 3, n_grids) * km_lon

    worker_grid = np.concatenate((np.arange(n_grids), rng.integers(0, n_grids, n_workers)))[
        :n_workers
    ]
    w_lat = grid_lat[worker_grid] + rng.normal(0, 1.0, n_workers) * KM_LAT
    w_lon = grid_lon[worker_grid] + rng.normal(0, 1.0, n_workers) * km_lon[worker_grid]

    elder_grid = rng.integers(0, n_grids, n_elders)
    e_lat = grid_lat[elder_grid] + rng.normal(0, 1.5, n_elders) * KM_LAT
    e_lon = grid_lon[elder_grid] + rng.normal(0, 1.5, n_elders) * km_lon[elder_grid]
    tiers = rng.choice(len(TIERS), n_elders, p=TIER_SHARE)
    per_tier = np.array([1, 2, 4])[tiers]

    order = np.argsort(worker_grid, kind="stable")
    starts = np.searchsorted(worker_grid[order], np.arange(n_grids + 1))
    primary = np.full(n_elders, -1)
    secondary = np.full(n_elders, -1)
    demand = np.zeros(n_workers)
    for i in rng.permutation(n_elders):
        g = elder_grid[i]
        local = order[starts[g] : starts[g + 1]]
        if len(local) == 0:
            continue
        by_load = local[np.argsort(demand[local], kind="stable")]
        if rng.random() < 0.3:  # offices do not balance perfectly
            by_load = rng.permutation(local)
        primary[i] = by_load[0]
        demand[by_load[0]] += per_tier[i]
        if len(by_load) > 1:
            secondary[i] = by_load[1]
    # capacities scattered around each worker's primary load, then scaled to the slack
    capacity = demand * rng.uniform(0.8, 1.3, n_workers)
    capacity = np.floor(capacity * per_tier.sum() * slack / capacity.sum()).astype(int)
    leave_from = rng.integers(1, 25, n_workers)
    on_leave = rng.random(n_workers) < 0.05

    def ident(x: int) -> int | None:
        return None if x < 0 else int(x) + 1

    workers = [
        WorkerIn(
            id=int(i) + 1,
            lat=float(w_lat[i]),
            lon=float(w_lon[i]),
            capacity=int(capacity[i]),
            grid_ids=frozenset({int(worker_grid[i]) + 10_000}),
            leave=(
                ((date(2026, 11, int(leave_from[i])), date(2026, 11, int(leave_from[i]) + 4)),)
                if on_leave[i]
                else ()
            ),
        )
        for i in range(n_workers)
    ]
    elders = [
        ElderIn(
            id=int(i) + 1,
            lat=float(e_lat[i]),
            lon=float(e_lon[i]),
            tier=str(TIERS[tiers[i]]),
            grid_id=int(elder_grid[i]) + 10_000,
            community_id=int(grid_comm[elder_grid[i]]) + 1_000_000,
            primary_id=ident(primary[i]),
            secondary_id=ident(secondary[i]),
            last_visitor_id=ident(primary[i] if rng.random() < 0.8 else secondary[i]),
        )
        for i in range(n_elders)
    ]
    return elders, workers


def run(n_elders: int, n_workers: int, trace_memory: bool = False, slack: float = 1.25) -> None:
    """Plan one synthetic month of the given size and print the figures."""
    t0 = time.perf_counter()
    elders, workers = synthetic(n_elders, n_workers, slack=slack)
    t_data = time.perf_counter() - t0
    inp = PlanInput("2026-11", date(2026, 10, 31), elders, workers)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t1 = time.perf_counter()
    plan = plan_month(inp)
    t_plan = time.perf_counter() - t1
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak = 0
    if trace_memory:  # a second, slower run under tracemalloc for Python-level peak memory
        tracemalloc.start()
        plan_month(inp)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    s = plan.stats
    best = max(plan.lower_bound, plan.lower_bound_wider)
    gap = 100.0 * (plan.cost - best) / max(best, 1)
    print(f"== {n_elders} elders / {n_workers} workers, capacity {slack:.2f}x the visits ==")
    print(f"synthetic data        {t_data:8.2f} s")
    print(
        f"plan_month            {t_plan:8.2f} s  (candidates {s['candidates_s']:.2f} s, "
        f"graph {s['graph_s']:.2f} s, solve {s['solve_s']:.2f} s, "
        f"lower bounds {s['lower_bound_s']:.2f} s, due dates {s['due_dates_s']:.2f} s)"
    )
    print(
        f"graph                 {int(s['nodes'])} nodes, {int(s['arcs'])} arcs, "
        f"{int(s['candidate_pairs'])} candidate pairs, {int(s['global_solves'])} global "
        f"solve(s), {int(s.get('leftover_passes', 0))} leftover pass(es)"
    )
    if trace_memory:
        print(f"peak traced memory    {peak / 2**20:8.1f} MiB (tracemalloc, plan_month only)")
    print(f"peak RSS              {rss_after:8.1f} MiB (process; {rss_before:.1f} MiB before)")
    print(f"visits                {plan.summary.visits}")
    print(f"unassigned            {plan.summary.unassigned}")
    print(f"by_contact            {plan.summary.by_contact}")
    print(f"mean_km               {plan.summary.mean_km}")
    print(f"max_load_ratio        {plan.summary.max_load_ratio}")
    print(f"cost                  {plan.cost}")
    print(f"lower bound (k)       {plan.lower_bound}")
    print(f"lower bound (1.5k)    {plan.lower_bound_wider}")
    print(f"relaxed bound (k)     {int(s.get('relaxed_lower_bound', 0))}")
    print(f"gap                   {gap:.5f} %")

    existing = [
        ExistingVisit(v.elder_id, v.seq, v.worker_id, "planned", v.due_date, v.window_start)
        for v in plan.visits
    ] + [
        ExistingVisit(u.elder_id, u.seq, None, "planned", u.due_date, u.window_start)
        for u in plan.unassigned
    ]
    t2 = time.perf_counter()
    again = plan_month(PlanInput("2026-11", date(2026, 10, 31), elders, workers, existing))
    print(
        f"second plan           {time.perf_counter() - t2:8.2f} s, changes nothing: "
        f"{again.changes_nothing}"
    )


def main() -> None:
    """Run the sizes asked for (default 10k/1k and 100k/5k)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        action="append",
        help="ELDERS:WORKERS, repeatable (default 10000:1000 and 100000:5000)",
    )
    parser.add_argument(
        "--trace-memory", action="store_true", help="also measure with tracemalloc (slow)"
    )
    parser.add_argument(
        "--slack", type=float, default=1.25, help="total capacity over visits owed (1.25)"
    )
    args = parser.parse_args()
    sizes = args.size or ["10000:1000", "100000:5000"]
    for size in sizes:
        elders, workers = (int(x) for x in size.split(":"))
        run(elders, workers, args.trace_memory, args.slack)


if __name__ == "__main__":
    main()
