"""Tests of the layouts: worked examples, decoding, K operands and masking."""

from __future__ import annotations

import math

import pytest
import torch

from binadd.layouts import Example, Layout
from binadd.metrics import Tally, masked_loss
from binadd.task import add_bits, bits_to_int, int_to_bits, random_operands


def operands(*values: int, n_bits: int = 3) -> torch.Tensor:
    """Operand bits of one example, shape (1, len(values), n_bits)."""
    return torch.stack([int_to_bits(v, n_bits) for v in values]).unsqueeze(0)


def rows(tensor: torch.Tensor) -> list[list[int]]:
    return tensor[0].long().tolist()


ALL_LAYOUTS = [
    Layout(k, order, arrangement)
    for k in (2, 3, 8)
    for order in ("lsb", "msb")
    for arrangement in ("parallel", "sequential")
]


def test_parallel_lsb_worked_example() -> None:
    example = Layout().encode(operands(6, 3))
    assert rows(example.inputs) == [[0, 1], [1, 1], [1, 0], [0, 0]]
    assert rows(example.targets) == [1, 0, 0, 1]
    assert rows(example.mask) == [1, 1, 1, 1]


def test_parallel_three_operands_worked_example() -> None:
    example = Layout(operands=3).encode(operands(7, 5, 6))
    assert rows(example.inputs) == [
        [1, 1, 0],
        [1, 0, 1],
        [1, 1, 1],
        [0, 0, 0],
        [0, 0, 0],
    ]
    assert rows(example.targets) == [0, 1, 0, 0, 1]


def test_parallel_msb_worked_example() -> None:
    example = Layout(bit_order="msb").encode(operands(6, 7))
    assert rows(example.inputs) == [[0, 0], [1, 1], [1, 1], [0, 1]]
    assert rows(example.targets) == [1, 1, 0, 1]


def test_sequential_lsb_worked_example() -> None:
    example = Layout(arrangement="sequential").encode(operands(6, 3))
    bit, separator, query = (example.inputs[0, :, c].long().tolist() for c in range(3))
    assert bit == [0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    assert separator == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    assert query == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert rows(example.targets) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1]
    assert rows(example.mask) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_sequential_msb_worked_example() -> None:
    example = Layout(bit_order="msb", arrangement="sequential").encode(operands(6, 7))
    bit = example.inputs[0, :, 0].long().tolist()
    assert bit == [1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert rows(example.targets)[-4:] == [1, 1, 0, 1]
    assert rows(example.mask) == [0] * 8 + [1] * 4


@pytest.mark.parametrize("layout", ALL_LAYOUTS, ids=repr)
@pytest.mark.parametrize("n_bits", [1, 5, 64])
def test_decode_reads_the_sum_out_of_every_layout(layout: Layout, n_bits: int) -> None:
    generator = torch.Generator().manual_seed(n_bits)
    bits = random_operands(16, n_bits, layout.operands, generator)
    example = layout.encode(bits)
    steps = layout.steps(n_bits)
    assert example.inputs.shape == (16, steps, layout.input_size)
    assert example.targets.shape == example.mask.shape == (16, steps)
    assert layout.n_bits_for(steps) == n_bits
    assert torch.equal(layout.decode(example.targets), add_bits(bits))
    # Exactly the sum's bits are answered, whatever the layout.
    assert (example.mask.sum(dim=1) == layout.sum_bits(n_bits)).all()


@pytest.mark.parametrize("k", range(2, 9))
def test_k_operand_targets_match_python_integers(k: int) -> None:
    n_bits = 13
    layout = Layout(operands=k, arrangement="sequential")
    assert layout.sum_bits(n_bits) == n_bits + math.ceil(math.log2(k))
    generator = torch.Generator().manual_seed(k)
    bits = random_operands(32, n_bits, k, generator)
    bits[0] = 1  # The largest sum must still fit.
    decoded = layout.decode(layout.encode(bits).targets)
    for row in range(32):
        truth = sum(bits_to_int(operand) for operand in bits[row])
        assert bits_to_int(decoded[row]) == truth


@pytest.mark.parametrize("layout", ALL_LAYOUTS[:4], ids=repr)
def test_padding_never_counts(layout: Layout) -> None:
    bits = random_operands(8, 6, layout.operands, torch.Generator().manual_seed(3))
    example = layout.encode(bits)
    logits = torch.randn(example.targets.shape, generator=torch.Generator())
    before = _metrics(logits, example)

    # Flip every output at a masked-out step: nothing changes.
    changed = torch.where(example.mask, logits, -logits + 5.0)
    assert _metrics(changed, example) == before

    # Flip one answer step: something does.
    answer = int(example.mask[0].nonzero()[0, 0])
    changed = logits.clone()
    changed[0, answer] = -changed[0, answer]
    assert _metrics(changed, example) != before


def _metrics(logits: torch.Tensor, example: Example) -> tuple[float, ...]:
    tally = Tally()
    tally.add(logits, example)
    loss = float(masked_loss(logits, example, "bce"))
    mse = float(masked_loss(logits, example, "mse"))
    return loss, mse, tally.bit_accuracy, tally.sequence_accuracy


def test_a_perfect_answer_scores_one_and_a_flipped_bit_zero() -> None:
    layout = Layout(arrangement="sequential")
    bits = random_operands(10, 9, 2, torch.Generator().manual_seed(4))
    example = layout.encode(bits)
    oracle = (example.targets * 2 - 1) * 10.0
    assert _metrics(oracle, example)[2:] == (1.0, 1.0)
    last = example.targets.shape[1] - 1
    oracle[:, last] = -oracle[:, last]
    assert _metrics(oracle, example)[3] == 0.0


def test_layout_rejects_wrong_operand_count_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="expects 3 operands"):
        Layout(operands=3).encode(operands(1, 2))
    with pytest.raises(ValueError, match="unknown layout"):
        Layout(arrangement="diagonal")
