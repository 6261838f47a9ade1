"""Losses and accuracies on masked per-step outputs, and confidence intervals.

``bit_accuracy`` is the fraction of answer bits that are right;
``sequence_accuracy`` the fraction of sums whose every answer bit is right
(exact match). Both are computed on bits, never through integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from binadd.layouts import Example


def masked_loss(logits: torch.Tensor, example: Example, loss: str) -> torch.Tensor:
    """Mean loss per answer bit.

    ``bce`` is binary cross-entropy computed from logits, finite at any logit;
    ``mse`` is the squared error between the sigmoid probability and the bit.
    """
    if loss == "bce":
        per_bit = F.binary_cross_entropy_with_logits(
            logits, example.targets, reduction="none"
        )
    elif loss == "mse":
        per_bit = (torch.sigmoid(logits) - example.targets) ** 2
    else:
        raise ValueError(f"unknown loss {loss!r}")
    mask = example.mask
    return (per_bit * mask).sum() / mask.sum().clamp(min=1)


@dataclass
class Tally:
    """Running counts of right bits and right sums, kept on the device."""

    bits: int | torch.Tensor = 0
    right_bits: int | torch.Tensor = 0
    sequences: int = 0
    right_sequences: int | torch.Tensor = 0

    def add(self, logits: torch.Tensor, example: Example) -> torch.Tensor:
        """Count one batch; return its per-sequence correctness (bool, batch)."""
        wrong = ((logits > 0) != example.targets.bool()) & example.mask
        correct = ~wrong.any(dim=1)
        self.bits = self.bits + example.mask.sum()
        self.right_bits = self.right_bits + (example.mask.sum() - wrong.sum())
        self.sequences += logits.shape[0]
        self.right_sequences = self.right_sequences + correct.sum()
        return correct

    @property
    def bit_accuracy(self) -> float:
        return float(self.right_bits) / max(float(self.bits), 1.0)

    @property
    def sequence_accuracy(self) -> float:
        return float(self.right_sequences) / max(self.sequences, 1)


def wilson_interval(
    successes: int, trials: int, z: float = 1.96
) -> tuple[float, float]:
    """95% Wilson score interval for a proportion; (0, 1) when there are no trials."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
