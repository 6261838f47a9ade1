"""Searching for operands on which a network adds wrong, and confirming them.

When a proof fails, the leak usually points at a run of one input pair that
drives the state out of its region: a carry travelling through (1, 0) or (0, 1)
bits, a long stretch of zeros or of ones. The search tries, at widths 16, 64,
256, ... up to a limit, every run of one input pair after a carry of 0 or 1,
and a few random pairs; the first wrong sum is cut down to the bits up to its
first wrong bit and confirmed by running the whole network on it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from binadd.certify.automaton import INPUT_PAIRS
from binadd.certify.visits import Visits, carry_heavy_operands
from binadd.evaluate import predict_sums
from binadd.layouts import Layout
from binadd.task import add_bits, bits_to_int, random_operands

DEVICE = torch.device("cpu")


def run_patterns(n_bits: int) -> tuple[torch.Tensor, list[str]]:
    """Operands (8, 2, n_bits): carry 0 or 1 set by bit 0, then one pair repeated."""
    rows, names = [], []
    for carry in (0, 1):
        for a, b in INPUT_PAIRS:
            bits = torch.zeros(2, n_bits, dtype=torch.uint8)
            bits[0], bits[1] = a, b
            if carry:
                bits[:, 0] = 1
            rows.append(bits)
            names.append(f"carry {carry} then ({a},{b}) repeated")
    return torch.stack(rows), names


def describe(
    operand_bits: torch.Tensor, predicted: torch.Tensor, how: str
) -> dict[str, Any]:
    """A JSON-ready counterexample: operands, both sums, first wrong bit."""
    truth_bits = add_bits(operand_bits.unsqueeze(0))[0]
    first = int((truth_bits != predicted).nonzero()[0, 0])
    return {
        "n_bits": int(operand_bits.shape[1]),
        "a": hex(bits_to_int(operand_bits[0])),
        "b": hex(bits_to_int(operand_bits[1])),
        "network_sum": hex(bits_to_int(predicted)),
        "true_sum": hex(bits_to_int(truth_bits)),
        "first_wrong_bit": first,
        "found_by": how,
    }


def confirm(
    model: nn.Module, operand_bits: torch.Tensor, how: str
) -> dict[str, Any] | None:
    """Cut a wrong example down to its first wrong bit and run the model again."""
    layout = Layout(2, "lsb", "parallel")
    predicted = predict_sums(model, layout, operand_bits.unsqueeze(0), DEVICE)[0]
    wrong = (predicted != add_bits(operand_bits.unsqueeze(0))[0]).nonzero()
    if len(wrong) == 0:
        return None
    width = min(int(wrong[0, 0]) + 1, operand_bits.shape[1])
    shorter = operand_bits[:, :width]
    predicted = predict_sums(model, layout, shorter.unsqueeze(0), DEVICE)[0]
    if bool((predicted != add_bits(shorter.unsqueeze(0))[0]).any()):
        return describe(shorter, predicted, how)
    return describe(
        operand_bits,
        predict_sums(model, layout, operand_bits.unsqueeze(0), DEVICE)[0],
        how,
    )


def first_wrong(model: nn.Module, operand_bits: torch.Tensor) -> int | None:
    """Index of the first row of a batch whose sum the model gets wrong."""
    layout = Layout(2, "lsb", "parallel")
    predicted = predict_sums(model, layout, operand_bits, DEVICE)
    wrong = (predicted != add_bits(operand_bits)).any(dim=1).nonzero()
    return int(wrong[0, 0]) if len(wrong) else None


@torch.no_grad()
def search_counterexample(
    model: nn.Module, layout: Layout, visits: Visits, options: Any
) -> dict[str, Any] | None:
    """The first confirmed wrong sum found, or None when none is found.

    Args:
        model: the network, in eval mode on the CPU.
        layout: its layout (parallel, lsb, two operands).
        visits: the collected visits; a wrong row there is tried first.
        options: :class:`~binadd.certify.certificate.CertifyOptions`
            (``search_bits``, ``seed``).
    """
    model = model.cpu().float().eval()
    for row in visits.wrong_rows[:1]:
        found = confirm(model, visits.operand_bits[int(row)], "collected inputs")
        if found:
            return found

    generator = torch.Generator().manual_seed(options.seed + 1)
    n_bits = 16
    while n_bits <= options.search_bits:
        patterns, names = run_patterns(n_bits)
        row = first_wrong(model, patterns)
        if row is not None:
            return confirm(model, patterns[row], names[row])
        batch = torch.cat(
            [
                random_operands(8, n_bits, 2, generator),
                carry_heavy_operands(8, n_bits, generator),
            ]
        )
        row = first_wrong(model, batch)
        if row is not None:
            return confirm(model, batch[row], f"random pairs at {n_bits} bits")
        n_bits *= 4
    return None
