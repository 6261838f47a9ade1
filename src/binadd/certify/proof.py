"""The proof itself: regions for a partition, grown until they close, checked.

For a partition of the visited states (see :mod:`binadd.certify.partitions`) the
regions start as boxes around each group in its principal-axes frame (or the
plain axes), then grow, round after round, to hold every image that lands
outside them. Whether or not they close, the final regions are then checked
from scratch: every check below must hold for the proof to stand.

- ``readout``: every state of a region has a logit of the sign of its sum bit.
- ``transition``: each input pair sends the region into its successor's region.
- ``start``: from the zero state, every word of the partition's window length
  lands in its region, and the bits emitted on the way are right.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from binadd.certify import intervals as iv
from binadd.certify.cellmaps import CellMap
from binadd.certify.intervals import Interval
from binadd.certify.partitions import PAIRS, Partition, add_step
from binadd.certify.regions import Region, check_step, in_frame, readout_bounds
from binadd.certify.visits import Visits


@dataclass
class Attempt:
    """One partition and frame choice, its regions and every check made."""

    partition: Partition
    rotated: bool
    regions: dict[int, Region]
    checks: list[dict[str, Any]]

    @property
    def passed(self) -> bool:
        return all(check["ok"] for check in self.checks)

    def leaks(self) -> list[dict[str, Any]]:
        return [check for check in self.checks if not check["ok"]]


def initial_regions(
    cell: CellMap, partition: Partition, rotated: bool, visits: Visits
) -> dict[int, Region]:
    """Boxes around each visited group; an unvisited group starts as a point
    where one step from a visited neighbour lands."""
    keys = partition.keys(visits).reshape(-1)
    states = visits.states.reshape(-1, visits.states.shape[-1])
    regions = {}
    for key in range(partition.size):
        points = states[keys == key]
        if len(points):
            regions[key] = Region.around_points(points, rotate=rotated)
    while len(regions) < partition.size:
        for key, pair in [(k, p) for k in list(regions) for p in range(4)]:
            target = partition.successor(key, pair)
            if target not in regions:
                x = np.array(PAIRS[pair], dtype=np.float64)
                image = cell.step(Interval.point(regions[key].center), x)
                regions[target] = Region.around_points(image.lo[None], rotate=False)
    return regions


def transitions(
    partition: Partition, regions: dict[int, Region]
) -> Iterator[tuple[int, int, int]]:
    """Every (source key, input pair, target key)."""
    for key in regions:
        for pair in range(4):
            yield key, pair, partition.successor(key, pair)


def _fits(image: Interval, region: Region) -> bool:
    return bool(np.all(image.lo > -region.radius) and np.all(image.hi < region.radius))


def reads_right(cell: CellMap, bit: int, region: Region) -> bool:
    low, high = readout_bounds(cell, region)
    return low > 0 if bit == 1 else high < 0


def start_words(
    cell: CellMap, partition: Partition
) -> Iterator[tuple[tuple[int, ...], Interval, bool]]:
    """Every input word up to the window length from the zero state: the word,
    an enclosure of the float32 state after it, and whether every bit emitted
    on the way (before the last step) was right."""
    zero = Interval.point(np.zeros(cell.state_size))
    frontier: list[tuple[tuple[int, ...], Interval, bool]] = [((), zero, True)]
    weight = cell.readout_weight()[None, :]
    for length in range(1, partition.window + 1):
        grown = []
        for word, state, right in frontier:
            error = cell.float32_error(state)
            for pair in range(4):
                x = np.array(PAIRS[pair], dtype=np.float64)
                image = cell.step(state, x) + Interval(
                    np.full(cell.state_size, -error), np.full(cell.state_size, error)
                )
                grown.append(((*word, pair), image, right))
        frontier = grown
        if length < partition.window:
            frontier = [
                (word, state, right and _prefix_right(cell, weight, word, state))
                for word, state, right in frontier
            ]
    yield from frontier


def _prefix_right(
    cell: CellMap, weight: np.ndarray, word: tuple[int, ...], state: Interval
) -> bool:
    carry, bit = 0, 0
    for pair in word:
        bit, carry = add_step(carry, pair)
    logit = iv.matmul(weight, state[:, None])[0, 0] + cell.head_bias
    error = cell.readout_error(state)
    return bool(logit.lo - error > 0) if bit else bool(logit.hi + error < 0)


def sample_closure(
    cell: CellMap,
    partition: Partition,
    regions: dict[int, Region],
    rounds: int = 6,
    samples: int = 48,
) -> dict[int, Region]:
    """Widen each region (in its own frame) to hold where sampled states of its
    predecessors step to: corners and inner points of every region, mapped in
    float64. This finds the shape of the true invariant set cheaply, before the
    interval enclosures, which overestimate, take over."""
    generator = np.random.default_rng(0)
    for _ in range(rounds):
        images: dict[int, list[np.ndarray]] = {}
        for key, region in regions.items():
            size = len(region.radius)
            corners = generator.choice([-1.0, 1.0], (samples, size))
            inner = generator.uniform(-1.0, 1.0, (samples, size))
            coords = np.concatenate([corners, inner]) * region.radius
            states = region.center + coords @ region.frame.T
            for pair in range(4):
                x = np.array(PAIRS[pair], dtype=np.float64)
                target = partition.successor(key, pair)
                images.setdefault(target, []).append(cell.point_step(states, x))
        changed = False
        for target, parts in images.items():
            region = regions[target]
            coords = (np.concatenate(parts) - region.center) @ region.inverse.T
            lo = np.minimum(-region.radius, coords.min(axis=0))
            hi = np.maximum(region.radius, coords.max(axis=0))
            changed |= bool(np.any(hi - lo > 2 * region.radius * (1 + 1e-3)))
            regions[target] = region.reshaped(lo, hi)
        if not changed:
            break
    return regions


def grow_regions(
    cell: CellMap,
    partition: Partition,
    regions: dict[int, Region],
    rounds: int,
    blowup: float = 100.0,
) -> dict[int, Region]:
    """Widen each region to hold the images that land outside it, until all fit,
    the rounds run out, a region reads out the wrong bit, or a region grows
    past ``blowup`` times its first size (the enclosures then run away)."""
    first = {key: float(region.radius.max()) for key, region in regions.items()}
    for _ in range(rounds):
        needed: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for key, pair, target in transitions(partition, regions):
            x = np.array(PAIRS[pair], dtype=np.float64)
            step = check_step(cell, regions[key], x, regions[target], 4)
            if not step.fits:
                needed.setdefault(target, []).append((step.lo, step.hi))
        for word, state, _ in start_words(cell, partition):
            target = partition.key(0, word)
            image = in_frame(state, regions[target])
            if not _fits(image, regions[target]):
                needed.setdefault(target, []).append((image.lo, image.hi))
        if not needed:
            break
        for target, boxes in needed.items():
            region = regions[target]
            lo = np.minimum.reduce([-region.radius] + [box[0] for box in boxes])
            hi = np.maximum.reduce([region.radius] + [box[1] for box in boxes])
            regions[target] = region.reshaped(lo, hi, slack=0.05)
        bits = {key: partition.meaning(key)[0] for key in regions}
        if not all(reads_right(cell, bits[key], r) for key, r in regions.items()):
            break
        sizes = {key: float(region.radius.max()) for key, region in regions.items()}
        if any(sizes[key] > blowup * max(first[key], 1e-3) for key in regions):
            break
    return regions


def verify(
    cell: CellMap, partition: Partition, regions: dict[int, Region], pieces: int
) -> list[dict[str, Any]]:
    """Every check of the proof, each a record with ``ok`` and its margin."""
    checks = []
    for key, region in regions.items():
        low, high = readout_bounds(cell, region)
        bit = partition.meaning(key)[0]
        checks.append(
            {"kind": "readout", "region": partition.label(key), "bit": bit}
            | {"logit": [low, high], "ok": reads_right(cell, bit, region)}
        )
    for key, pair, target in transitions(partition, regions):
        x = np.array(PAIRS[pair], dtype=np.float64)
        step = check_step(cell, regions[key], x, regions[target], pieces)
        checks.append(
            _containment("transition", partition.label(key), pair, step.lo, step.hi)
            | {"to": partition.label(target), "pieces": step.pieces}
            | _overflow(step.lo, step.hi, regions[target].radius)
        )
    for word, state, right in start_words(cell, partition):
        target = partition.key(0, word)
        image = in_frame(state, regions[target])
        record = _containment("start", "start", word[-1], image.lo, image.hi)
        record |= {"word": [f"{p // 2}{p % 2}" for p in word]}
        record |= {"to": partition.label(target), "pieces": 1}
        record |= _overflow(image.lo, image.hi, regions[target].radius)
        record["ok"] = record["ok"] and right
        checks.append(record)
    return checks


def _containment(
    kind: str, source: str, pair: int, lo: np.ndarray, hi: np.ndarray
) -> dict[str, Any]:
    return {"kind": kind, "from": source, "input": f"{pair // 2}{pair % 2}"}


def _overflow(lo: np.ndarray, hi: np.ndarray, radius: np.ndarray) -> dict[str, Any]:
    """How far the image sticks out (negative margin) along its worst axis."""
    overflow = np.maximum(hi - radius, -radius - lo)
    return {
        "worst_axis": int(np.argmax(overflow / radius)),
        "margin": float(-np.max(overflow)),
        "ok": bool(np.all(overflow < 0)),
    }


def attempt(
    cell: CellMap,
    visits: Visits,
    partition: Partition,
    rotated: bool,
    rounds: int,
    pieces: int,
) -> Attempt:
    """Build, grow and check the regions of one partition."""
    regions = initial_regions(cell, partition, rotated, visits)
    regions = sample_closure(cell, partition, regions)
    regions = grow_regions(cell, partition, regions, rounds)
    return Attempt(
        partition, rotated, regions, verify(cell, partition, regions, pieces)
    )
