"""Soundness of the interval arithmetic: every enclosure holds the true values."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binadd.certify import intervals as iv
from binadd.certify.intervals import Interval

finite = st.floats(-30, 30, allow_nan=False)


def _box(a: float, b: float) -> Interval:
    return Interval(np.array([min(a, b)]), np.array([max(a, b)]))


@given(finite, finite, finite, finite)
def test_add_and_multiply_hold_exact_results(
    a: float, b: float, c: float, d: float
) -> None:
    left, right = _box(a, b), _box(c, d)
    total, product = left + right, left * right
    for x in (a, b):
        for y in (c, d):
            assert Fraction(total.lo[0]) <= Fraction(x) + Fraction(y)
            assert Fraction(x) + Fraction(y) <= Fraction(total.hi[0])
            assert Fraction(product.lo[0]) <= Fraction(x) * Fraction(y)
            assert Fraction(x) * Fraction(y) <= Fraction(product.hi[0])


@settings(max_examples=50)
@given(
    st.lists(finite, min_size=6, max_size=6), st.lists(finite, min_size=3, max_size=3)
)
def test_matmul_holds_the_exact_product(
    weights: list[float], vector: list[float]
) -> None:
    matrix = np.array(weights).reshape(2, 3)
    result = iv.matmul(matrix, Interval.point(np.array(vector)))
    for row in range(2):
        exact = sum(
            Fraction(w) * Fraction(v) for w, v in zip(matrix[row], vector, strict=True)
        )
        assert Fraction(result.lo[row]) <= exact <= Fraction(result.hi[row])


@settings(max_examples=200)
@given(finite, finite)
def test_activations_and_slopes_enclose_every_inner_point(a: float, b: float) -> None:
    box = _box(a, b)
    inner = np.linspace(box.lo[0], box.hi[0], 9)
    pairs = [
        (iv.sigmoid(box), 1 / (1 + np.exp(-inner))),
        (iv.tanh(box), np.tanh(inner)),
        (iv.sigmoid_slope(box), np.exp(-inner) / (1 + np.exp(-inner)) ** 2),
        (iv.tanh_slope(box), 1 / np.cosh(inner) ** 2),
    ]
    # The float64 references are themselves off by an ulp or two.
    for enclosure, values in pairs:
        assert np.all(enclosure.lo[0] <= values + np.abs(values) * 4e-16 + 1e-300)
        assert np.all(values - np.abs(values) * 4e-16 - 1e-300 <= enclosure.hi[0])


def test_far_tails_keep_a_positive_upper_bound() -> None:
    # sigmoid(-700) is about 1e-304: an enclosure [0, 0] would be unsound.
    assert iv.sigmoid(_box(-700, -700)).hi[0] >= math.exp(-700) * 0.99


@pytest.mark.parametrize("value", [0.0, 1e-8, 3.0])
def test_point_intervals_stay_tight(value: float) -> None:
    box = iv.tanh(_box(value, value))
    assert box.hi[0] - box.lo[0] < 1e-12
