"""Property-based tests of the bit encoding, the operand generator and the
carry computation, against Python's exact integers, up to thousands of bits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from binadd.task import (
    CASE_NAMES,
    add_bits,
    add_with_carry,
    bits_to_int,
    extra_bits,
    int_to_bits,
    random_operands,
    structured_case,
)

FAST = settings(max_examples=60, deadline=None)
widths = st.integers(min_value=1, max_value=4096)
operand_counts = st.integers(min_value=2, max_value=8)


@st.composite
def width_and_value(draw) -> tuple[int, int]:
    n_bits = draw(widths)
    return n_bits, draw(st.integers(min_value=0, max_value=2**n_bits - 1))


@st.composite
def operand_rows(draw, max_width: int = 3000) -> tuple[int, list[list[int]]]:
    """A width and a batch of operand tuples as Python integers."""
    n_bits = draw(st.integers(min_value=1, max_value=max_width))
    count = draw(operand_counts)
    value = st.integers(min_value=0, max_value=2**n_bits - 1)
    rows = draw(
        st.lists(
            st.lists(value, min_size=count, max_size=count), min_size=1, max_size=3
        )
    )
    return n_bits, rows


def as_bits(rows: list[list[int]], n_bits: int) -> torch.Tensor:
    """Shape (batch, operands, n_bits), little-endian."""
    return torch.stack(
        [torch.stack([int_to_bits(v, n_bits) for v in row]) for row in rows]
    )


@FAST
@given(width_and_value())
def test_int_to_bits_gives_each_bit_of_the_integer(case) -> None:
    n_bits, value = case
    bits = int_to_bits(value, n_bits)
    assert bits.dtype == torch.uint8 and bits.shape == (n_bits,)
    expected = [(value >> i) & 1 for i in range(n_bits)]
    assert bits.tolist() == expected
    assert bits_to_int(bits) == value


@FAST
@given(st.lists(st.integers(0, 1), min_size=0, max_size=5000))
def test_bits_to_int_then_back_is_the_identity(bit_list) -> None:
    bits = torch.tensor(bit_list, dtype=torch.uint8)
    value = bits_to_int(bits)
    assert value == sum(bit << i for i, bit in enumerate(bit_list))
    if bit_list:
        assert torch.equal(int_to_bits(value, len(bit_list)), bits)
    assert bits_to_int(bits.numpy()) == value


@FAST
@given(width_and_value())
def test_int_to_bits_refuses_what_does_not_fit(case) -> None:
    n_bits, value = case
    with pytest.raises(ValueError):
        int_to_bits(2**n_bits + value, n_bits)
    with pytest.raises(ValueError):
        int_to_bits(-1 - value, n_bits)


@FAST
@given(operand_rows())
@example((3000, [[2**3000 - 1] * 8, [2**2999] * 8]))
@example((4096, [[2**4096 - 1, 1], [0, 0]]))
def test_add_bits_equals_integer_addition(case) -> None:
    n_bits, rows = case
    count = len(rows[0])
    total = add_bits(as_bits(rows, n_bits))
    assert total.shape == (len(rows), n_bits + extra_bits(count))
    assert total.dtype == torch.uint8
    assert [bits_to_int(row) for row in total] == [sum(row) for row in rows]


@FAST
@given(operand_rows(), st.data())
def test_add_with_carry_in_chunks_equals_one_sum(case, data) -> None:
    """Streaming: chunks, each taking the carry out of the one before."""
    n_bits, rows = case
    operand_bits = as_bits(rows, n_bits)
    cuts = data.draw(st.lists(st.integers(1, max(1, n_bits - 1)), max_size=6))
    edges = sorted({0, n_bits, *(c for c in cuts if c < n_bits)})
    carry = torch.zeros(len(rows), dtype=torch.int64)
    pieces = []
    for low, high in itertools.pairwise(edges):
        bits, carry = add_with_carry(operand_bits[:, :, low:high], carry)
        pieces.append(bits)
    low_bits = torch.cat(pieces, dim=1)
    for index, row in enumerate(rows):
        assert bits_to_int(low_bits[index]) == sum(row) % 2**n_bits
        assert int(carry[index]) == sum(row) >> n_bits
        assert int(carry[index]) < len(row)


@FAST
@given(
    st.integers(1, 3000),
    operand_counts,
    st.integers(0, 2**63 - 1),
    st.integers(1, 4),
)
def test_random_operands_are_bits_fixed_by_the_seed(
    n_bits, count, seed, batch_size
) -> None:
    def draw() -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return random_operands(batch_size, n_bits, count, generator)

    first = draw()
    assert first.shape == (batch_size, count, n_bits)
    assert first.dtype == torch.uint8
    assert set(first.unique().tolist()) <= {0, 1}
    assert torch.equal(first, draw())
    for row in first:
        assert [bits_to_int(bits) for bits in row] == [
            int("".join(map(str, bits.flip(0).tolist())), 2) for bits in row
        ]


def test_random_operands_are_fair_coins() -> None:
    """Every bit position is a fair coin: a binomial test at 6 sigma."""
    generator = torch.Generator().manual_seed(12345)
    draws = random_operands(4000, 64, 3, generator).to(torch.float64)
    ones = draws.mean(dim=0)
    sigma = float(np.sqrt(0.25 / 4000))
    assert float((ones - 0.5).abs().max()) < 6 * sigma


EXPECTED_CASES = {
    "carry_chain": lambda n: [2**n - 1, 1],
    "all_ones": lambda n: [2**n - 1, 2**n - 1],
    "alternating": lambda n: [
        sum(2**i for i in range(0, n, 2)),
        sum(2**i for i in range(1, n, 2)),
    ],
    "alternating_plus_one": lambda n: [
        sum(2**i for i in range(0, n, 2)),
        sum(2**i for i in range(1, n, 2)) | 1,
    ],
    "top_bits": lambda n: [2 ** (n - 1), 2 ** (n - 1)],
    "zeros": lambda n: [0, 0],
}


@FAST
@given(st.integers(1, 3000), st.sampled_from(CASE_NAMES))
def test_structured_cases_are_the_integers_they_claim(n_bits, name) -> None:
    case = structured_case(name, n_bits)
    values = [bits_to_int(bits) for bits in case[0]]
    assert values == EXPECTED_CASES[name](n_bits)
    assert bits_to_int(add_bits(case)[0]) == sum(values)
