"""The fast paths of task.add_bits and random_operands agree with the exact scan."""

from __future__ import annotations

import pytest
import torch

from binadd.task import (
    _small_ints_to_bits,
    add_bits,
    add_with_carry,
    bits_to_int,
    extra_bits,
    random_operands,
)


def scan_sum(operand_bits: torch.Tensor) -> torch.Tensor:
    """The Kogge-Stone result, the reference for the fast paths."""
    low, carry = add_with_carry(operand_bits)
    high = _small_ints_to_bits(carry, extra_bits(operand_bits.shape[1]))
    return torch.cat([low, high.to(torch.uint8)], dim=1)


@pytest.mark.parametrize("operands", [2, 3, 8])
@pytest.mark.parametrize("n_bits", [1, 31, 32, 33, 59, 60, 61, 62, 63, 64, 65, 200])
def test_add_bits_matches_the_scan(operands: int, n_bits: int) -> None:
    generator = torch.Generator().manual_seed(n_bits)
    for bits in (
        random_operands(30, n_bits, operands, generator),
        torch.ones(2, operands, n_bits, dtype=torch.uint8),
        torch.zeros(2, operands, n_bits, dtype=torch.uint8),
    ):
        total = add_bits(bits)
        assert total.dtype == torch.uint8
        assert torch.equal(total, scan_sum(bits))
        values = [bits_to_int(row) for row in bits[0]]
        assert bits_to_int(total[0]) == sum(values)


def test_random_operands_are_fair_bits_of_the_right_shape() -> None:
    generator = torch.Generator().manual_seed(0)
    bits = random_operands(400, 130, 3, generator)
    assert bits.shape == (400, 3, 130)
    assert bits.dtype == torch.uint8
    assert int(bits.max()) == 1
    assert abs(float(bits.float().mean()) - 0.5) < 0.01
    # Every position, including the last partial word, is a fair coin.
    assert float(bits[:, :, -1].float().mean()) == pytest.approx(0.5, abs=0.05)


def test_random_operands_follow_the_generator() -> None:
    first = random_operands(5, 70, 2, torch.Generator().manual_seed(3))
    again = random_operands(5, 70, 2, torch.Generator().manual_seed(3))
    other = random_operands(5, 70, 2, torch.Generator().manual_seed(4))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
