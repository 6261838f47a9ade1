"""The training recipe's moving parts: learning-rate schedule and stop-when-solved.

The learning rate is a pure function of the optimizer step count, so the
schedule's whole state is that count (saved in the checkpoint) and a resumed run
follows the same curve::

    lr(step) = lr * min(1, (step + 1) / warmup_steps) * decay(step)

where ``decay`` is 1 for ``constant`` and a half cosine from 1 to 0 over the step
budget (``epochs * steps_per_epoch``) for ``cosine``.

Stopping when solved costs little: every ``solve_every`` steps a
:class:`SolveCheck` scores a small fixed held-out batch at the training width and
at twice it (``solve_samples`` pairs each); only when every one of those sums is
right does it confirm on the full held-out sets at both widths (at the training
width, the very set scored after every epoch). Training ends once the
confirmation passes. ``solve_lengths`` names other widths to check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from binadd.config import Config, TrainConfig
from binadd.layouts import Example, Layout
from binadd.task import random_operands

# Bits (pairs x width) per batch of the confirmation sets.
BITS_PER_BATCH = 1 << 18


def learning_rate(train: TrainConfig, step: int) -> float:
    """The learning rate of optimizer step ``step`` (counted from 0)."""
    rate = train.lr
    if train.warmup_steps > 0:
        rate *= min(1.0, (step + 1) / train.warmup_steps)
    if train.lr_schedule == "cosine":
        budget = max(train.epochs * train.steps_per_epoch, 1)
        progress = min(step / budget, 1.0)
        rate *= 0.5 * (1.0 + math.cos(math.pi * progress))
    return rate


def solve_lengths(config: Config) -> tuple[int, ...]:
    """The widths a solved check tests: ``solve_lengths``, else L and 2L."""
    n_bits = config.task.n_bits
    return config.train.solve_lengths or (n_bits, 2 * n_bits)


def draw_held_out(
    layout: Layout,
    n_bits: int,
    pairs: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    shorter: bool = False,
) -> list[Example]:
    """A fixed held-out set of ``pairs`` sums at one width, in batches.

    With ``shorter``, every other pair keeps only its low ``w`` bits for a
    ``w`` drawn uniformly from 1 to ``n_bits``. For a causal model with the
    ``lsb`` layout, the first ``w + 1`` outputs on such a pair are exactly its
    outputs on the ``w``-bit problem, so one batch tests every shorter width.
    """
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for start in range(0, pairs, batch_size):
        size = min(batch_size, pairs - start)
        bits = random_operands(size, n_bits, layout.operands, generator)
        if shorter:
            bits = keep_low_bits(bits, generator)
        batches.append(layout.encode(bits).to(device))
    return batches


def keep_low_bits(bits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Zero the bits of every other pair above a random width from 1 to n_bits."""
    batch, _, n_bits = bits.shape
    widths = torch.randint(1, n_bits + 1, (batch, 1, 1), generator=generator)
    widths[0::2] = n_bits
    keep = torch.arange(n_bits).view(1, 1, -1) < widths
    return bits * keep.to(bits.dtype)


@torch.no_grad()
def all_right(model: nn.Module, batches: list[Example]) -> bool:
    """Whether the model gets every answer bit of every batch right."""
    for example in batches:
        logits, _ = model(example.inputs)
        wrong = ((logits > 0) != example.targets.bool()) & example.mask
        if bool(wrong.any()):
            return False
    return True


@dataclass
class SolveCheck:
    """Decides, cheaply and then thoroughly, whether training is done.

    Args:
        probe: small held-out batches at the training width and twice it.
        full: the full held-out sets at both widths, used to confirm.
        every: optimizer steps between probes.
    """

    probe: list[Example]
    full: list[Example]
    every: int

    @classmethod
    def from_config(
        cls,
        config: Config,
        layout: Layout,
        device: torch.device,
        test_set: list[Example],
    ) -> SolveCheck:
        """Draw the probe and the confirmation sets from ``test_seed``.

        ``test_set`` is the held-out set scored every epoch, at ``n_bits``; it
        is part of the confirmation, so a solved epoch's record shows it right.
        """
        train = config.train
        pairs = train.test_batches * train.batch_size
        probe: list[Example] = []
        full: list[Example] = list(test_set)
        # Seeds differ from the epoch test set's so the probe is a fresh sample.
        for offset, width in enumerate(solve_lengths(config), start=1):
            seed, shorter = train.test_seed + offset, width > config.task.n_bits
            samples = train.solve_samples
            probe += draw_held_out(
                layout, width, samples, samples, seed, device, shorter
            )
            if width != config.task.n_bits:
                batch = max(1, min(pairs, BITS_PER_BATCH // width))
                full += draw_held_out(
                    layout, width, pairs, batch, seed + 100, device, shorter
                )
        return cls(probe, full, train.solve_every)

    def due(self, step: int) -> bool:
        """Whether a check is due after ``step`` optimizer steps."""
        return step % self.every == 0

    def solved(self, model: nn.Module) -> bool:
        """Probe, and confirm on the full sets only if the probe is all right."""
        was_training = model.training
        model.eval()
        try:
            return all_right(model, self.probe) and all_right(model, self.full)
        finally:
            model.train(was_training)
