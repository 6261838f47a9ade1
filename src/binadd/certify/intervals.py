"""Interval arithmetic in float64 with outward rounding, for the certifier.

An :class:`Interval` holds arrays ``lo`` and ``hi`` (any shape) and stands for
every real array between them. Each operation returns an interval that contains
every exact real result, whatever the rounding of the float64 computation: a
single rounded operation is widened by one ulp (``nextafter``), sums of many
terms (matrix products) carry the classical error bound ``gamma_n * |A| |B|``,
and the library functions ``exp`` and ``tanh`` are widened by 2^-44 relative,
far more than their documented error of a few ulps.

Worked example: the interval [1, 2] times the point matrix [[0.1]] is an
interval around [0.1, 0.2] that is a few ulps wider than the float64 products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Unit roundoff of float64 and the relative widening of library functions.
UNIT = 2.0**-53
LIBRARY_SLACK = 2.0**-44
TINY = 1e-300


def down(values: np.ndarray) -> np.ndarray:
    """The next float64 below every value (one rounding step outward)."""
    return np.nextafter(values, -np.inf)


def up(values: np.ndarray) -> np.ndarray:
    """The next float64 above every value."""
    return np.nextafter(values, np.inf)


def gamma(terms: int) -> float:
    """A bound on the relative error of a float64 sum of ``terms`` products."""
    return 2.0 * (terms + 2) * UNIT / (1.0 - (terms + 2) * UNIT)


@dataclass(frozen=True)
class Interval:
    """A box of real arrays: every array ``x`` with ``lo <= x <= hi``."""

    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def point(cls, values: np.ndarray) -> Interval:
        array = np.asarray(values, dtype=np.float64)
        return cls(array.copy(), array.copy())

    @classmethod
    def around(cls, mid: np.ndarray, rad: np.ndarray) -> Interval:
        """The interval ``mid +- rad`` (``rad >= 0``), rounded outward."""
        mid = np.asarray(mid, dtype=np.float64)
        return cls(down(mid - rad), up(mid + rad))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.lo.shape)

    def mid_rad(self) -> tuple[np.ndarray, np.ndarray]:
        """A midpoint and a radius such that ``mid +- rad`` contains the box."""
        mid = 0.5 * (self.lo + self.hi)
        rad = up(np.maximum(self.hi - mid, mid - self.lo))
        return mid, rad

    def magnitude(self) -> np.ndarray:
        """The largest absolute value in each entry."""
        return np.maximum(np.abs(self.lo), np.abs(self.hi))

    def __add__(self, other: Interval | np.ndarray | float) -> Interval:
        o = as_interval(other)
        return Interval(down(self.lo + o.lo), up(self.hi + o.hi))

    def __radd__(self, other: np.ndarray | float) -> Interval:
        return self + other

    def __neg__(self) -> Interval:
        return Interval(-self.hi, -self.lo)

    def __sub__(self, other: Interval | np.ndarray | float) -> Interval:
        return self + (-as_interval(other))

    def __rsub__(self, other: np.ndarray | float) -> Interval:
        return as_interval(other) - self

    def __mul__(self, other: Interval | np.ndarray | float) -> Interval:
        o = as_interval(other)
        products = [self.lo * o.lo, self.lo * o.hi, self.hi * o.lo, self.hi * o.hi]
        lo = np.minimum.reduce(products)
        hi = np.maximum.reduce(products)
        return Interval(down(lo), up(hi))

    def __rmul__(self, other: np.ndarray | float) -> Interval:
        return self * other

    def __getitem__(self, key: Any) -> Interval:
        return Interval(self.lo[key], self.hi[key])

    def clip(self, lower: float, upper: float) -> Interval:
        """Intersect with ``[lower, upper]``, a range known to hold every value."""
        return Interval(np.clip(self.lo, lower, upper), np.clip(self.hi, lower, upper))


def as_interval(value: Interval | np.ndarray | float) -> Interval:
    return value if isinstance(value, Interval) else Interval.point(np.asarray(value))


def concat(parts: list[Interval], axis: int = 0) -> Interval:
    return Interval(
        np.concatenate([p.lo for p in parts], axis=axis),
        np.concatenate([p.hi for p in parts], axis=axis),
    )


def diag(vector: Interval) -> Interval:
    return Interval(np.diag(vector.lo), np.diag(vector.hi))


def matmul(left: Interval | np.ndarray, right: Interval | np.ndarray) -> Interval:
    """An enclosure of every product ``A @ B`` with A in ``left``, B in ``right``.

    Midpoint-radius form: ``Am @ Bm +- (|Am| Br + Ar |Bm| + Ar Br)``, plus the
    rounding error of the float64 midpoint product, all rounded upward.
    """
    left_mid, left_rad = as_interval(left).mid_rad()
    right_mid, right_rad = as_interval(right).mid_rad()
    terms = left_mid.shape[-1]
    mid = left_mid @ right_mid
    spread = (
        np.abs(left_mid) @ right_rad
        + left_rad @ np.abs(right_mid)
        + left_rad @ right_rad
    )
    error = gamma(terms) * (np.abs(left_mid) @ np.abs(right_mid))
    rad = (spread + error) * (1.0 + gamma(terms + 3)) + TINY
    return Interval.around(mid, rad)


def dot_up(magnitudes: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """An upper bound on ``magnitudes @ radius`` (non-negative operands)."""
    return (magnitudes @ radius) * (1.0 + gamma(len(radius))) + TINY


def _widen(lo: np.ndarray, hi: np.ndarray) -> Interval:
    """Widen library-function results by LIBRARY_SLACK relative, outward."""
    return Interval(
        lo - np.abs(lo) * LIBRARY_SLACK - TINY, hi + np.abs(hi) * LIBRARY_SLACK + TINY
    )


def _sigmoid(values: np.ndarray) -> np.ndarray:
    # Both branches keep a small relative error, also far out in the tails.
    e = np.exp(-np.abs(values))
    return np.where(values >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid(box: Interval) -> Interval:
    """The logistic function; monotone, so the ends map to the ends."""
    return _widen(_sigmoid(box.lo), _sigmoid(box.hi)).clip(0.0, 1.0)


def tanh(box: Interval) -> Interval:
    return _widen(np.tanh(box.lo), np.tanh(box.hi)).clip(-1.0, 1.0)


def _nearest_and_farthest_from_zero(box: Interval) -> tuple[np.ndarray, np.ndarray]:
    nearest = np.where(
        (box.lo <= 0) & (box.hi >= 0), 0.0, np.minimum(np.abs(box.lo), np.abs(box.hi))
    )
    return nearest, box.magnitude()


def sigmoid_slope(box: Interval) -> Interval:
    """sigmoid'(z) = e / (1 + e)^2 with e = exp(-|z|): even, falling in |z|."""
    nearest, farthest = _nearest_and_farthest_from_zero(box)

    def slope(z: np.ndarray) -> np.ndarray:
        e = np.exp(-z)
        return e / (1.0 + e) ** 2

    # Four rounded operations after exp: widen a little more than for tanh.
    widened = _widen(slope(farthest), slope(nearest))
    return Interval(widened.lo * (1 - 8 * UNIT), widened.hi * (1 + 8 * UNIT)).clip(
        0.0, 0.25
    )


def tanh_slope(box: Interval) -> Interval:
    """tanh'(z) = 1 - tanh(z)^2 = 4e / (1 + e)^2 with e = exp(-2|z|)."""
    nearest, farthest = _nearest_and_farthest_from_zero(box)

    def slope(z: np.ndarray) -> np.ndarray:
        e = np.exp(-2.0 * z)
        return 4.0 * e / (1.0 + e) ** 2

    widened = _widen(slope(farthest), slope(nearest))
    return Interval(widened.lo * (1 - 8 * UNIT), widened.hi * (1 + 8 * UNIT)).clip(
        0.0, 1.0
    )
