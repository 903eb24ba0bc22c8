"""Which workers may take an elder's visits: a sparse candidate list per elder.

The two contacts, every worker of the elder's grid, the nearest workers of its community,
last month's visitor, then the nearest `k` workers with room through a KD-tree over 3-D unit
vectors (the chord between two unit vectors grows with the great-circle distance). The work
grows with the number of elders, never elders times workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from scheduler.geo import chord_to_great_circle_m, great_circle_many_m, unit_vectors

PRIMARY, SECONDARY, AREA, OTHER = 0, 1, 2, 3
NOT_NEAREST = np.iinfo(np.int32).max  # knn rank of a pair that came from another source

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class People:
    """Elders and workers as arrays (indices, not ids); -1 means none, NaN no coordinates."""

    elder_lat: FloatArray
    elder_lon: FloatArray
    elder_grid: IntArray
    elder_community: IntArray
    primary: IntArray
    secondary: IntArray
    last_visitor: IntArray
    worker_lat: FloatArray
    worker_lon: FloatArray
    # (worker, area) pairs: who serves which grid and which community (area ids, not indices)
    grid_worker: IntArray
    grid_area: IntArray
    community_worker: IntArray
    community_area: IntArray


@dataclass(frozen=True)
class Candidates:
    """(elder, worker) pairs sorted by elder, with `start[e]:start[e+1]` the pairs of elder e."""

    elder: NDArray[np.int32]
    worker: NDArray[np.int32]
    contact: NDArray[np.int8]  # PRIMARY, SECONDARY, AREA, OTHER
    continuity: BoolArray  # the worker visited the elder last month
    distance_m: FloatArray  # NaN where a coordinate is missing
    knn_rank: NDArray[np.int32]  # rank among the nearest, NOT_NEAREST for other sources
    listed: BoolArray  # named by a source other than the nearest (contact, area, extra...)
    start: IntArray
    # great-circle distance to the farthest of the k nearest, per elder and per k asked:
    # every worker outside the list is at least that far (inf: the pool was exhausted)
    reach_m: dict[int, FloatArray]
    # the same for area workers left out of a large grid or community (inf: none left out)
    area_reach_m: FloatArray

    def __len__(self) -> int:
        return len(self.elder)


def _cartesian(elders: IntArray, workers: IntArray) -> tuple[IntArray, IntArray]:
    return np.repeat(elders, len(workers)), np.tile(workers, len(elders))


def _area_pairs(
    people: People,
    elders: IntArray,
    elder_area: IntArray,
    pair_worker: IntArray,
    pair_area: IntArray,
    limit: int,
    area_reach: FloatArray,
) -> tuple[IntArray, IntArray]:
    """Pairs of each elder with the workers serving its area (the `limit` nearest if more).

    Where workers were left out, `area_reach[e]` is lowered to a bound on their distance.
    """
    if len(pair_worker) == 0 or len(elders) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    areas = elder_area[elders]
    keep = areas >= 0
    elders, areas = elders[keep], areas[keep]
    order = np.argsort(areas, kind="stable")
    elders, areas = elders[order], areas[order]
    w_order = np.argsort(pair_area, kind="stable")
    w_area, w_worker = pair_area[w_order], pair_worker[w_order]
    uniq, e_start = np.unique(areas, return_index=True)
    e_end = np.append(e_start[1:], len(areas))
    w_lo = np.searchsorted(w_area, uniq, side="left")
    w_hi = np.searchsorted(w_area, uniq, side="right")
    out_e: list[IntArray] = []
    out_w: list[IntArray] = []
    for a_lo, a_hi, lo, hi in zip(e_start, e_end, w_lo, w_hi, strict=True):
        if hi == lo:
            continue
        group_e = elders[a_lo:a_hi]
        group_w = np.unique(w_worker[lo:hi])
        if len(group_w) <= limit:
            pe, pw = _cartesian(group_e, group_w)
        else:
            dist = great_circle_many_m(
                people.elder_lat[group_e][:, None],
                people.elder_lon[group_e][:, None],
                people.worker_lat[group_w][None, :],
                people.worker_lon[group_w][None, :],
            )
            dist = np.where(np.isnan(dist), np.inf, dist)
            nearest = np.argpartition(dist, limit - 1, axis=1)[:, :limit]
            kth = np.take_along_axis(dist, nearest, axis=1).max(axis=1) - 1.0
            area_reach[group_e] = np.minimum(area_reach[group_e], kth)
            pe = np.repeat(group_e, limit)
            pw = group_w[nearest].ravel()
        out_e.append(pe)
        out_w.append(pw)
    if not out_e:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(out_e), np.concatenate(out_w)


def build_candidates(
    people: People,
    elders: IntArray,
    pool: BoolArray,
    k_values: tuple[int, ...],
    max_area: int,
    extra: tuple[IntArray, IntArray] | None = None,
) -> Candidates:
    """Candidate pairs for `elders` (indices); the nearest come from workers where `pool`.

    `k_values` lists the numbers of nearest workers wanted (for example 20 and 30); the
    pairs hold the largest, ranked, so a caller keeps `knn_rank < k` for a smaller list.
    Within an elder the nearest come first, by rank, then the other sources. `extra` adds
    (elder, worker) pairs of class "other", such as farther workers who still have room.
    """
    elders = np.unique(np.asarray(elders, dtype=np.int64))
    n_elders = len(people.elder_lat)
    n_workers = max(len(people.worker_lat), 1)

    # contacts, area workers and last month's visitor: few per elder, deduplicated by a sort
    # whose key keeps the best contact class of a pair in its low bits
    area_reach = np.full(n_elders, np.inf)
    sources = [
        (elders, people.primary[elders], PRIMARY),
        (elders, people.secondary[elders], SECONDARY),
        (
            *_area_pairs(
                people,
                elders,
                people.elder_grid,
                people.grid_worker,
                people.grid_area,
                max_area,
                area_reach,
            ),
            AREA,
        ),
        (
            *_area_pairs(
                people,
                elders,
                people.elder_community,
                people.community_worker,
                people.community_area,
                max_area,
                area_reach,
            ),
            AREA,
        ),
        (elders, people.last_visitor[elders], OTHER),
    ]
    if extra is not None:
        sources.append((extra[0], extra[1], OTHER))
    xe = np.concatenate([e for e, _, _ in sources])
    xw = np.concatenate([w for _, w, _ in sources])
    xc = np.concatenate([np.full(len(e), c, dtype=np.int64) for e, _, c in sources])
    keep = xw >= 0
    key = np.sort(((xe[keep] * n_workers + xw[keep]) << 2) | xc[keep])
    code = key >> 2
    first = np.ones(len(code), dtype=bool)
    first[1:] = code[1:] != code[:-1]
    xe, xw, xc = code[first] // n_workers, code[first] % n_workers, key[first] & 3

    # the nearest workers with room
    elder_xyz = unit_vectors(people.elder_lat, people.elder_lon)
    worker_xyz = unit_vectors(people.worker_lat, people.worker_lon)
    reach = {k: np.full(n_elders, np.inf) for k in k_values}
    pool_idx = np.flatnonzero(pool & ~np.isnan(people.worker_lat) & ~np.isnan(people.worker_lon))
    located = elders[~np.isnan(people.elder_lat[elders]) & ~np.isnan(people.elder_lon[elders])]
    kq = min(max(k_values), len(pool_idx)) if len(located) else 0
    if kq > 0:
        tree = cKDTree(worker_xyz[pool_idx])
        chord, found_local = tree.query(elder_xyz[located], k=kq, workers=-1)
        chord = np.asarray(chord, dtype=np.float64).reshape(len(located), kq)
        found = pool_idx[np.asarray(found_local, dtype=np.int64).reshape(len(located), kq)]
        del found_local
        for k in k_values:
            if k <= len(pool_idx):
                # a metre less than the k-th neighbour: a bound safe from rounding
                reach[k][located] = chord_to_great_circle_m(chord[:, k - 1]) - 1.0
    else:
        found = np.empty((len(located), 0), dtype=np.int64)
    knn_contact = np.full(found.shape, OTHER, dtype=np.int8)
    knn_listed = np.zeros(found.shape, dtype=bool)

    # a source pair that is also among the nearest keeps its place there, with its class
    dup = np.zeros(len(xe), dtype=bool)
    if kq > 0:
        by_worker = np.argsort(found, axis=1)
        near_codes = (
            located[:, None] * n_workers + np.take_along_axis(found, by_worker, 1)
        ).ravel()
        at = np.minimum(np.searchsorted(near_codes, xe * n_workers + xw), len(near_codes) - 1)
        hit = near_codes[at] == xe * n_workers + xw
        row, col = at[hit] // kq, at[hit] % kq
        knn_contact[row, by_worker[row, col]] = xc[hit]
        knn_listed[row, by_worker[row, col]] = True
        dup = hit
        del by_worker, near_codes, at
    xe, xw, xc = xe[~dup], xw[~dup], xc[~dup]

    # lay the pairs out elder by elder: the nearest (by rank), then the other sources
    n_near = np.zeros(n_elders, dtype=np.int64)
    n_near[located] = kq
    n_extra = np.bincount(xe, minlength=n_elders)
    start = np.concatenate(([0], np.cumsum(n_near + n_extra))).astype(np.int64)
    total = int(start[-1])
    pe = np.empty(total, dtype=np.int32)
    pw = np.empty(total, dtype=np.int32)
    pc = np.empty(total, dtype=np.int8)
    pr = np.full(total, NOT_NEAREST, dtype=np.int32)
    listed = np.ones(total, dtype=bool)
    if kq > 0:
        near_pos = (start[located][:, None] + np.arange(kq)).ravel()
        pe[near_pos] = np.repeat(located, kq)
        pw[near_pos] = found.ravel()
        pc[near_pos] = knn_contact.ravel()
        pr[near_pos] = np.tile(np.arange(kq, dtype=np.int32), len(located))
        listed[near_pos] = knn_listed.ravel()
    x_first = np.searchsorted(xe, xe)  # xe is sorted: index of each elder's first extra
    x_pos = start[xe] + n_near[xe] + (np.arange(len(xe)) - x_first)
    pe[x_pos], pw[x_pos], pc[x_pos] = xe, xw, xc
    # a contact is a contact whatever source listed it
    pc[pw == people.secondary[pe]] = SECONDARY
    pc[pw == people.primary[pe]] = PRIMARY
    # planning distances through the unit vectors: the great circle of the chord, the same
    # distance as geopy's to well under a metre at a fraction of the cost; the nearest come
    # with their chord from the tree, the others are computed coordinate by coordinate
    chord_all = np.zeros(total, dtype=np.float64)
    for axis in range(3):
        chord_all[x_pos] += (elder_xyz[xe, axis] - worker_xyz[xw, axis]) ** 2
    np.sqrt(chord_all, out=chord_all)
    if kq > 0:
        chord_all[near_pos] = chord.ravel()
        del chord, found, knn_contact, knn_listed, near_pos
    return Candidates(
        elder=pe,
        worker=pw,
        contact=pc,
        continuity=pw == people.last_visitor[pe],
        distance_m=chord_to_great_circle_m(chord_all),
        knn_rank=pr,
        listed=listed,
        start=start,
        reach_m=reach,
        area_reach_m=area_reach,
    )


def nearest_workers(
    people: People, elders: IntArray, pool: BoolArray, k: int
) -> tuple[IntArray, IntArray]:
    """(elder, worker) pairs: each elder's `k` nearest workers where `pool`."""
    elders = np.unique(np.asarray(elders, dtype=np.int64))
    pool_idx = np.flatnonzero(pool & ~np.isnan(people.worker_lat) & ~np.isnan(people.worker_lon))
    located = elders[~np.isnan(people.elder_lat[elders]) & ~np.isnan(people.elder_lon[elders])]
    kq = min(k, len(pool_idx))
    if kq == 0 or len(located) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    tree = cKDTree(unit_vectors(people.worker_lat[pool_idx], people.worker_lon[pool_idx]))
    _, found = tree.query(unit_vectors(people.elder_lat[located], people.elder_lon[located]), k=kq)
    found = np.asarray(found, dtype=np.int64).reshape(len(located), kq)
    return np.repeat(located, kq), pool_idx[found.ravel()]


def nearest_distance_m(people: People, elders: IntArray, pool: BoolArray) -> FloatArray:
    """Per elder (all indices), a metre less than the great-circle distance to the nearest
    worker where `pool`; inf for elders not asked about, without coordinates, or no pool."""
    out = np.full(len(people.elder_lat), np.inf)
    elders = np.unique(np.asarray(elders, dtype=np.int64))
    pool_idx = np.flatnonzero(pool & ~np.isnan(people.worker_lat) & ~np.isnan(people.worker_lon))
    located = elders[~np.isnan(people.elder_lat[elders]) & ~np.isnan(people.elder_lon[elders])]
    if len(pool_idx) == 0 or len(located) == 0:
        return out
    tree = cKDTree(unit_vectors(people.worker_lat[pool_idx], people.worker_lon[pool_idx]))
    chord, _ = tree.query(unit_vectors(people.elder_lat[located], people.elder_lon[located]), k=1)
    out[located] = chord_to_great_circle_m(np.asarray(chord, dtype=np.float64)) - 1.0
    return out
