"""Losses and accuracies, checked with an exact oracle."""

from __future__ import annotations

import math

import pytest
import torch

from binadd.evaluate import evaluate
from binadd.layouts import Example, Layout
from binadd.metrics import Tally, masked_loss, wilson_interval
from binadd.task import random_operands


def batch(n_bits: int, size: int = 50) -> Example:
    generator = torch.Generator().manual_seed(n_bits)
    return Layout().encode(random_operands(size, n_bits, 2, generator))


def test_oracle_scores_one_at_every_width(oracle) -> None:
    records = evaluate(
        oracle, Layout(), (1, 2, 3, 10, 64, 200), 100, 0, torch.device("cpu")
    )
    assert records
    for record in records:
        assert record["bit_accuracy"] == 1.0
        assert record["sequence_accuracy"] == 1.0
        assert record["errors"] == 0


@pytest.mark.parametrize("n_bits", [1, 5, 10, 20])
def test_one_flipped_bit_breaks_every_sum(oracle, n_bits: int) -> None:
    example = batch(n_bits)
    logits, _ = oracle(example.inputs)
    logits[:, n_bits // 2] *= -1
    tally = Tally()
    tally.add(logits, example)
    assert tally.sequence_accuracy == 0.0
    assert tally.bit_accuracy == pytest.approx(n_bits / (n_bits + 1))


@pytest.mark.parametrize("loss", ["bce", "mse"])
def test_losses_finite_at_extreme_logits_and_small_for_the_oracle(oracle, loss) -> None:
    example = batch(10)
    for margin in (100.0, -100.0):
        logits = torch.full_like(example.targets, margin)
        assert math.isfinite(float(masked_loss(logits, example, loss)))
    logits, _ = oracle(example.inputs)
    assert float(masked_loss(logits * 5, example, loss)) < 1e-6


def test_bce_and_mse_are_different_losses() -> None:
    example = batch(10)
    logits = torch.zeros_like(example.targets)
    assert float(masked_loss(logits, example, "bce")) == pytest.approx(math.log(2))
    assert float(masked_loss(logits, example, "mse")) == pytest.approx(0.25)


def test_masked_steps_never_count() -> None:
    example = batch(6)
    mask = example.mask.clone()
    mask[:, -1] = False
    masked = Example(example.inputs, example.targets, mask)
    logits = (example.targets * 2 - 1) * 10
    logits[:, -1] *= -1  # wrong only where the mask is off
    tally = Tally()
    tally.add(logits, masked)
    assert tally.sequence_accuracy == 1.0
    assert tally.bit_accuracy == 1.0
    small = masked_loss(logits, masked, "bce")
    assert float(small) < 1e-3


def test_wilson_interval() -> None:
    low, high = wilson_interval(1000, 1000)
    assert high == 1.0 and 0.995 < low < 0.997
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and 0.16 < high < 0.17
    assert wilson_interval(0, 0) == (0.0, 1.0)
