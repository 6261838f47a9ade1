"""Regions of state space and sound enclosures of where one step sends them.

A region is a parallelotope (a box in a rotated frame, as in Lohner's method)::

    R = { center + frame @ u  :  -radius <= u <= radius }

with ``center``, ``frame`` and ``radius`` exact float64 numbers, so R is an exact
set of reals. ``inverse`` is only an approximate inverse of ``frame``; whether a
set lies inside R is decided with Krawczyk's test, which stays sound for any
``inverse``: if ``inverse @ (Y - center) + (I - inverse @ frame) @ [-r, r]`` lies
inside ``[-r, r]``, every point of Y lies in R.

Where a step sends R is bounded with the mean-value form: for a piece of R with
centre p, ``F(piece) ⊂ F(p) + J(hull of piece) @ (piece - p)``, and the product
``inverse @ J @ frame`` is formed before it meets the box, which keeps the
wrapping effect small. A piece that is still too loose is bisected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from binadd.certify import intervals as iv
from binadd.certify.cellmaps import CellMap
from binadd.certify.intervals import Interval


@dataclass(frozen=True)
class Region:
    """A parallelotope in state space (see the module docstring)."""

    center: np.ndarray
    frame: np.ndarray
    inverse: np.ndarray
    radius: np.ndarray

    @classmethod
    def around_points(cls, points: np.ndarray, rotate: bool = True) -> Region:
        """The smallest box around ``points`` in their principal-axes frame."""
        center = points.mean(axis=0)
        frame = np.eye(points.shape[1])
        if rotate and len(points) > 1:
            _, frame = np.linalg.eigh(np.cov(points, rowvar=False))
        inverse = frame.T.copy()
        coords = (points - center) @ inverse.T
        lo, hi = coords.min(axis=0), coords.max(axis=0)
        return cls(center, frame, inverse, np.zeros(len(center))).reshaped(lo, hi)

    def reshaped(self, lo: np.ndarray, hi: np.ndarray, slack: float = 0.0) -> Region:
        """The region whose frame coordinates span ``[lo, hi]``, widened by
        ``slack`` of the width (and a small floor), recentred."""
        middle = 0.5 * (lo + hi)
        half = 0.5 * (hi - lo) * (1.0 + slack)
        floor = 1e-6 * max(1.0, float(np.abs(self.center).max()))
        center = self.center + self.frame @ middle
        return replace(self, center=center, radius=np.maximum(half, floor))

    def hull(
        self, lo: np.ndarray | None = None, hi: np.ndarray | None = None
    ) -> Interval:
        """An axis-aligned box containing the part with frame coordinates in
        ``[lo, hi]`` (default: all of the region)."""
        lo = -self.radius if lo is None else lo
        hi = self.radius if hi is None else hi
        return Interval.point(self.center) + iv.matmul(self.frame, Interval(lo, hi))

    def to_dict(self) -> dict[str, list[float] | list[list[float]]]:
        return {
            "center": self.center.tolist(),
            "frame": self.frame.tolist(),
            "radius": self.radius.tolist(),
        }


def in_frame(values: Interval, target: Region) -> Interval:
    """Frame coordinates of ``values`` in ``target``, with Krawczyk's term."""
    coords = iv.matmul(target.inverse, values - target.center)
    identity = Interval.point(np.eye(len(target.radius)))
    residual = identity - iv.matmul(target.inverse, target.frame)
    slack = iv.dot_up(residual.magnitude(), target.radius)
    return coords + Interval(-slack, slack)


def piece_image(
    cell: CellMap,
    source: Region,
    lo: np.ndarray,
    hi: np.ndarray,
    x: np.ndarray,
    target: Region,
) -> Interval:
    """Frame coordinates in ``target`` enclosing the float32 step of every state
    of ``source`` whose frame coordinates lie in ``[lo, hi]``."""
    middle = 0.5 * (lo + hi)
    half = iv.up(np.maximum(hi - middle, middle - lo))
    center = Interval.point(source.center) + iv.matmul(
        source.frame, Interval.point(middle)
    )
    hull = source.hull(lo, hi)

    # F(p) + (inverse J frame) @ [-half, half], with p the exact piece centre.
    base = in_frame(cell.step(center, x), target)
    jacobian = cell.jacobian(hull, x)
    product = iv.matmul(iv.matmul(target.inverse, jacobian), source.frame)
    spread = iv.dot_up(product.magnitude(), half)

    # Float32 evaluation may land up to `error` (max norm) away from F(s).
    error = cell.float32_error(hull)
    spread = iv.up(spread + np.abs(target.inverse).sum(axis=1) * error * (1 + 1e-12))
    return base + Interval(-spread, spread)


@dataclass
class StepCheck:
    """The enclosure of one transition, and whether it fits its target."""

    lo: np.ndarray
    hi: np.ndarray
    pieces: int
    fits: bool


def check_step(
    cell: CellMap,
    source: Region,
    x: np.ndarray,
    target: Region,
    max_pieces: int = 64,
) -> StepCheck:
    """Enclose the step of ``source`` under input ``x`` in ``target``'s frame,
    bisecting ``source`` until each piece fits or ``max_pieces`` is reached."""
    queue = [(-source.radius, source.radius.copy())]
    done: list[Interval] = []
    fits = True
    while queue:
        lo, hi = queue.pop()
        image = piece_image(cell, source, lo, hi, x, target)
        inside = bool(
            np.all(image.lo > -target.radius) and np.all(image.hi < target.radius)
        )
        if inside or len(queue) + len(done) + 2 > max_pieces:
            done.append(image)
            fits = fits and inside
            continue
        # Split the piece in two along its widest frame axis.
        axis = int(np.argmax(hi - lo))
        cut = 0.5 * (lo[axis] + hi[axis])
        upper_lo, lower_hi = lo.copy(), hi.copy()
        upper_lo[axis], lower_hi[axis] = cut, cut
        queue += [(lo, lower_hi), (upper_lo, hi)]
    union_lo = np.min([image.lo for image in done], axis=0)
    union_hi = np.max([image.hi for image in done], axis=0)
    return StepCheck(union_lo, union_hi, len(done), fits)


def readout_bounds(cell: CellMap, region: Region) -> tuple[float, float]:
    """Bounds on the float32 logit over ``region`` (rounding error included)."""
    weight = cell.readout_weight()
    center = iv.matmul(weight[None, :], Interval.point(region.center)[:, None])
    scale = iv.matmul(weight[None, :], region.frame).magnitude()
    spread = float(iv.dot_up(scale, region.radius)[0])
    logit = center[0, 0] + cell.head_bias
    error = cell.readout_error(region.hull()) + spread
    return float(iv.down(logit.lo - error)), float(iv.up(logit.hi + error))
