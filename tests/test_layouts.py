"""Encodings shown to the model."""

from __future__ import annotations

import torch

from binadd.layouts import Layout
from binadd.task import int_to_bits


def test_parallel_lsb_worked_example() -> None:
    bits = torch.stack([int_to_bits(6, 3), int_to_bits(3, 3)]).unsqueeze(0)
    example = Layout().encode(bits)
    assert example.inputs.shape == (1, 4, 2)
    assert example.inputs[0].tolist() == [[0, 1], [1, 1], [1, 0], [0, 0]]
    assert example.targets[0].tolist() == [1, 0, 0, 1]
    assert example.mask.all()
    assert Layout().decode(example.targets)[0].tolist() == [1, 0, 0, 1]


def test_three_operands_get_two_pad_steps() -> None:
    bits = torch.stack([int_to_bits(7, 3)] * 3).unsqueeze(0)
    example = Layout(operands=3).encode(bits)
    assert example.inputs.shape == (1, 5, 3)
    assert example.targets[0].tolist() == [1, 0, 1, 0, 1]  # 21 = 0b10101
