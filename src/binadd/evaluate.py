"""Evaluation across widths: random pairs and structured carry cases.

For every width the model is scored on a fixed-seed sample of random pairs (the
same pairs for every checkpoint scored with the same ``eval_seed``) and on each
structured case of :mod:`binadd.task`, reported apart. Each result is a record,
a flat dict with the columns of ``lengths.csv``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from binadd.errors import CheckpointError
from binadd.layouts import Layout
from binadd.metrics import wilson_interval
from binadd.models import build_model
from binadd.rundir import Checkpoint
from binadd.task import add_bits, random_operands, structured_cases

# Bits held in one forward pass (batch x steps); bounds evaluation memory.
BITS_PER_PASS = 1 << 21


def restore_model(checkpoint: Checkpoint, device: torch.device) -> nn.Module:
    """Rebuild the checkpoint's model in eval mode; a mismatch is a one-line error."""
    layout = Layout.from_config(checkpoint.config.task)
    model = build_model(checkpoint.config.model, layout.input_size)
    try:
        model.load_state_dict(checkpoint.model_state)
    except RuntimeError as error:
        first = str(error).splitlines()[1:2] or [str(error)]
        raise CheckpointError(
            f"checkpoint weights do not fit its config: {first[0].strip()}"
        ) from None
    return model.to(device).eval()


@torch.no_grad()
def predict_sums(
    model: nn.Module, layout: Layout, operand_bits: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """The network's sum bits (little-endian, uint8, on the CPU) for operand bits."""
    example = layout.encode(operand_bits.to(device))
    logits, _ = model(example.inputs)
    return layout.decode((logits > 0).cpu())


def _batches(total: int, n_bits: int) -> Iterator[int]:
    """Split ``total`` sequences into passes of at most BITS_PER_PASS bits."""
    size = max(1, BITS_PER_PASS // max(n_bits, 1))
    for start in range(0, total, size):
        yield min(size, total - start)


def width_seed(eval_seed: int, n_bits: int) -> int:
    """A seed per width, so that adding widths does not change the others' pairs."""
    return (eval_seed * 1_000_003 + n_bits) % (2**63 - 1)


def score(
    model: nn.Module,
    layout: Layout,
    operand_batches: Iterator[torch.Tensor],
    device: torch.device,
) -> dict[str, Any]:
    """Score batches of operands; return counts and where wrong sums go wrong."""
    bits = right_bits = sequences = right = 0
    first_wrong: list[int] = []
    for operand_bits in operand_batches:
        truth = add_bits(operand_bits)
        wrong = predict_sums(model, layout, operand_bits, device) != truth
        bad_rows = wrong.any(dim=1)
        bits += wrong.numel()
        right_bits += wrong.numel() - int(wrong.sum())
        sequences += wrong.shape[0]
        right += wrong.shape[0] - int(bad_rows.sum())
        if bool(bad_rows.any()):
            first_wrong += wrong[bad_rows].to(torch.int8).argmax(dim=1).tolist()
    return _record(bits, right_bits, sequences, right, first_wrong)


def _record(
    bits: int, right_bits: int, sequences: int, right: int, first_wrong: list[int]
) -> dict[str, Any]:
    low, high = wilson_interval(right, sequences)
    return {
        "samples": sequences,
        "bit_accuracy": right_bits / max(bits, 1),
        "sequence_accuracy": right / max(sequences, 1),
        "sequence_low": low,
        "sequence_high": high,
        "errors": sequences - right,
        "first_wrong_min": min(first_wrong) if first_wrong else "",
        "first_wrong_median": statistics.median(first_wrong) if first_wrong else "",
    }


def evaluate_width(
    model: nn.Module,
    layout: Layout,
    n_bits: int,
    samples: int,
    eval_seed: int,
    device: torch.device,
) -> list[dict[str, Any]]:
    """Records for one width: random pairs first, then each structured case."""
    generator = torch.Generator().manual_seed(width_seed(eval_seed, n_bits))
    random_batches = (
        random_operands(size, n_bits, layout.operands, generator)
        for size in _batches(samples, n_bits)
    )
    records = [{"n_bits": n_bits, "case": "random"}]
    records[0].update(score(model, layout, random_batches, device))
    for name, case in structured_cases(n_bits, layout.operands).items():
        record: dict[str, Any] = {"n_bits": n_bits, "case": name}
        record.update(score(model, layout, iter([case]), device))
        records.append(record)
    return records


def evaluate(
    model: nn.Module,
    layout: Layout,
    lengths: tuple[int, ...],
    samples: int,
    eval_seed: int,
    device: torch.device,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Score every width in ``lengths``; return all records."""
    records: list[dict[str, Any]] = []
    for n_bits in tqdm(lengths, unit="width", leave=False, disable=not progress):
        records += evaluate_width(model, layout, n_bits, samples, eval_seed, device)
    return records


def verdicts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per width: random accuracy, cases right, and a verdict.

    The verdict is ``pass`` when every sampled sum and every structured case is
    right, ``FAIL`` otherwise. A pass is evidence, not proof: see ``certify``.
    """
    rows: dict[int, dict[str, Any]] = {}
    for record in records:
        row = rows.setdefault(
            int(record["n_bits"]), {"n_bits": int(record["n_bits"]), "cases": 0}
        )
        if record["case"] == "random":
            row.update(record)
        else:
            row["cases_total"] = row.get("cases_total", 0) + 1
            row["cases"] += int(float(record["sequence_accuracy"]) == 1.0)
    for row in rows.values():
        exact = float(row.get("sequence_accuracy", 0.0)) == 1.0
        row["verdict"] = (
            "pass" if exact and row["cases"] == row["cases_total"] else "FAIL"
        )
    return [rows[width] for width in sorted(rows)]


def format_verdicts(rows: list[dict[str, Any]]) -> list[str]:
    """A fixed-width table of :func:`verdicts` rows."""
    lines = [
        f"{'n_bits':>8}  {'seq_acc':>7}  {'95% interval':>15}  {'bit_acc':>7}"
        f"  {'cases':>5}  verdict"
    ]
    for row in rows:
        interval = (
            f"[{float(row['sequence_low']):.3f}, {float(row['sequence_high']):.3f}]"
        )
        lines.append(
            f"{row['n_bits']:>8d}  {float(row['sequence_accuracy']):7.4f}"
            f"  {interval:>15}"
            f"  {float(row['bit_accuracy']):7.4f}"
            f"  {row['cases']}/{row['cases_total']:<3d}  {row['verdict']}"
        )
    return lines
