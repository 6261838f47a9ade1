"""Exact bits, random operands, sums and structured cases."""

from __future__ import annotations

import random

import pytest
import torch

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


def operands_tensor(values: list[list[int]], n_bits: int) -> torch.Tensor:
    rows = [torch.stack([int_to_bits(v, n_bits) for v in row]) for row in values]
    return torch.stack(rows)


def test_worked_example_six_plus_three() -> None:
    bits = operands_tensor([[6, 3]], 3)
    assert bits[0, 0].tolist() == [0, 1, 1]
    assert bits[0, 1].tolist() == [1, 1, 0]
    assert add_bits(bits)[0].tolist() == [1, 0, 0, 1]


@pytest.mark.parametrize("n_bits", [1, 2, 7, 8, 53, 54, 63, 64, 65, 1000, 4099])
def test_int_bits_round_trip_edges(n_bits: int) -> None:
    for value in (0, 1, 2**n_bits - 1, 2 ** (n_bits - 1), (2**n_bits - 1) // 3):
        bits = int_to_bits(value, n_bits)
        assert bits.shape == (n_bits,)
        assert bits.dtype == torch.uint8
        assert bits_to_int(bits) == value


def test_int_to_bits_rejects_what_does_not_fit() -> None:
    with pytest.raises(ValueError):
        int_to_bits(8, 3)
    with pytest.raises(ValueError):
        int_to_bits(-1, 3)


@pytest.mark.parametrize("n_bits", [1, 2, 10, 64, 1000])
@pytest.mark.parametrize("operands", [2, 3, 8])
def test_sums_match_python_integers(n_bits: int, operands: int) -> None:
    generator = torch.Generator().manual_seed(n_bits * 10 + operands)
    bits = random_operands(16, n_bits, operands, generator)
    sums = add_bits(bits)
    assert sums.shape == (16, n_bits + extra_bits(operands))
    for row, total in zip(bits, sums, strict=True):
        assert bits_to_int(total) == sum(bits_to_int(b) for b in row)


def test_carry_out_of_the_top_bit() -> None:
    for n_bits in (1, 64, 1000):
        top = 2**n_bits - 1
        bits = operands_tensor([[top, 1], [top, top], [0, 0]], n_bits)
        sums = add_bits(bits)
        assert [bits_to_int(s) for s in sums] == [top + 1, 2 * top, 0]


def test_chunked_addition_passes_the_carry() -> None:
    rng = random.Random(0)
    n_bits, chunk = 1000, 7
    values = [[rng.getrandbits(n_bits) for _ in range(3)] for _ in range(4)]
    values.append([2**n_bits - 1] * 3)
    bits = operands_tensor(values, n_bits)
    carry = torch.zeros(len(values), dtype=torch.long)
    pieces = []
    for start in range(0, n_bits, chunk):
        low, carry = add_with_carry(bits[:, :, start : start + chunk], carry)
        pieces.append(low)
    whole = torch.cat(pieces, dim=1)
    for row, low, high in zip(values, whole, carry, strict=True):
        assert bits_to_int(low) + (int(high) << n_bits) == sum(row)


def test_random_operands_are_uniform_bits_and_seeded() -> None:
    first = random_operands(200, 64, 2, torch.Generator().manual_seed(1))
    again = random_operands(200, 64, 2, torch.Generator().manual_seed(1))
    assert torch.equal(first, again)
    assert set(first.unique().tolist()) == {0, 1}
    assert 0.45 < first.float().mean().item() < 0.55


@pytest.mark.parametrize("n_bits", [1, 2, 5, 64])
def test_structured_cases_have_the_documented_values(n_bits: int) -> None:
    top = 2**n_bits - 1
    ones = sum(1 << i for i in range(0, n_bits, 2))
    expected = {
        "carry_chain": (top, 1),
        "all_ones": (top, top),
        "alternating": (ones, top ^ ones),
        "alternating_plus_one": (ones, (top ^ ones) + 1),
        "top_bits": (2 ** (n_bits - 1), 2 ** (n_bits - 1)),
        "zeros": (0, 0),
    }
    for name in CASE_NAMES:
        case = structured_case(name, n_bits)
        assert tuple(bits_to_int(b) for b in case[0]) == expected[name], name
