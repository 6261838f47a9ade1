"""Evaluation across widths: random pairs and structured carry cases.

For every width the model is scored on a fixed-seed sample of random pairs (the
same pairs for every checkpoint scored with the same ``eval_seed``) and on each
structured case of :mod:`binadd.task`, reported apart. Each result is a record,
a flat dict with the columns of ``lengths.csv``.

Long sums are streamed (see :mod:`binadd.stream`): a causal recurrent model on
the ``parallel`` ``lsb`` layout is fed ``chunk_size`` steps at a time with its
state carried over, so memory depends on the chunk and the rows of a pass, never
on the width. Other models and layouts are scored on whole sequences, up to
``WHOLE_SEQUENCE_LIMIT`` steps (or the model's ``max_steps``), refused up front.

How many random pairs a width gets: ``samples``, unless that exceeds the bit
budget, in which case ``bit_budget // n_bits`` pairs, and never fewer than one.
With the default budget of 10**7 bits, a width of 10**4 gets 1000 pairs, 10**5
gets 100, 10**6 gets 10 and 10**7 a single pair; each record's ``samples``
column holds the real count and its interval says what that count is worth.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from binadd.checkpoint import Checkpoint
from binadd.config import EvalConfig
from binadd.errors import CheckpointError, UsageError
from binadd.layouts import Layout
from binadd.metrics import wilson_interval
from binadd.models import build_model
from binadd.rundir import RunDir
from binadd.stream import (
    DEFAULT_CHUNK_SIZE,
    GENERATION_BITS,
    WHOLE_SEQUENCE_LIMIT,
    CaseSource,
    Chunk,
    RandomSource,
    RowScores,
    Source,
    StackedSource,
    TensorSource,
    can_stream,
    score_chunks,
    stream_chunks,
    whole_chunks,
)
from binadd.task import CASE_NAMES, extra_bits

# Rows x positions of operand bits drawn for one pass; bounds evaluation memory
# together with the chunk size (a pass of rows holds rows x chunk steps).
BITS_PER_PASS = 1 << 21
# Random operand bits scored per width at most (see the module docstring).
DEFAULT_BIT_BUDGET = 10**7


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


def check_width(model: nn.Module, layout: Layout, n_bits: int) -> None:
    """Refuse widths too long to score whole, for a model that cannot stream.

    The limit is ``WHOLE_SEQUENCE_LIMIT`` steps, or the model's own
    ``max_steps`` where it has a smaller one.
    """
    if can_stream(model, layout):
        return
    steps = layout.steps(n_bits)
    limit = min(WHOLE_SEQUENCE_LIMIT, getattr(model, "max_steps", steps))
    if steps > limit:
        raise UsageError(
            f"this model cannot read {steps} steps ({n_bits} bits): it cannot "
            f"stream (layout {layout.arrangement}/{layout.bit_order}), so it reads "
            f"whole sums of at most {limit} steps; score smaller widths"
        )


def _chunks(
    model: nn.Module,
    layout: Layout,
    source: Source,
    n_bits: int,
    device: torch.device,
    chunk_size: int | None,
) -> Iterator[Chunk]:
    """Stream when the model and layout allow it, else score whole sums."""
    if can_stream(model, layout):
        return stream_chunks(model, source, n_bits, layout.operands, device, chunk_size)
    return whole_chunks(model, layout, source, n_bits, device)


@torch.no_grad()
def predict_sums(
    model: nn.Module,
    layout: Layout,
    operand_bits: torch.Tensor,
    device: torch.device,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
) -> torch.Tensor:
    """The network's sum bits (little-endian, uint8, on the CPU) for operand bits.

    Streams when the model and layout allow it, so the width is not bounded.
    """
    n_bits = operand_bits.shape[2]
    check_width(model, layout, n_bits)
    source = TensorSource(operand_bits.cpu())
    chunks = _chunks(model, layout, source, n_bits, device, chunk_size)
    return torch.cat([chunk.predicted for chunk in chunks], dim=1)


def pairs_at(n_bits: int, samples: int, bit_budget: int = DEFAULT_BIT_BUDGET) -> int:
    """Random pairs scored at ``n_bits``: ``samples`` within the bit budget, >= 1."""
    return max(1, min(samples, bit_budget // max(n_bits, 1)))


def rows_per_pass(n_bits: int) -> int:
    """Rows drawn and scored together at one width; depends on the width only."""
    return max(1, BITS_PER_PASS // min(max(n_bits, 1), GENERATION_BITS))


def width_seed(eval_seed: int, n_bits: int) -> int:
    """A seed per width, so that adding widths does not change the others' pairs."""
    return (eval_seed * 1_000_003 + n_bits) % (2**63 - 1)


def width_passes(
    n_bits: int, operands: int, pairs: int, eval_seed: int
) -> list[tuple[Source, list[str]]]:
    """The passes of one width: a source of rows and the case of every row.

    Random pairs come in groups of :func:`rows_per_pass`, all drawn in turn
    from the width's own generator; the structured cases ride along with the
    last group when they fit, else they make a pass of their own. The random
    sources draw lazily from one generator: read the passes in order, each to
    its end, as :func:`evaluate_width` does.
    """
    generator = torch.Generator().manual_seed(width_seed(eval_seed, n_bits))
    capacity = rows_per_pass(n_bits)
    passes: list[tuple[Source, list[str]]] = []
    for first in range(0, pairs, capacity):
        rows = min(capacity, pairs - first)
        source = RandomSource(rows, n_bits, operands, generator)
        passes.append((source, ["random"] * rows))

    cases = CaseSource(CASE_NAMES, n_bits, operands)
    last, labels = passes[-1]
    if last.rows + cases.rows <= capacity:
        passes[-1] = (StackedSource([last, cases]), labels + list(CASE_NAMES))
    else:
        passes.append((cases, list(CASE_NAMES)))
    return passes


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


def _rows_record(scores: list[tuple[RowScores, torch.Tensor]]) -> dict[str, Any]:
    """One record from the selected rows (bool masks) of several passes."""
    bits = wrong_bits = sequences = right = 0
    first_wrong: list[int] = []
    for row_scores, chosen in scores:
        count = int(chosen.sum())
        bits += row_scores.bits * count
        wrong_bits += int(row_scores.wrong_bits[chosen].sum())
        sequences += count
        right += int(row_scores.right[chosen].sum())
        firsts = row_scores.first_wrong[chosen]
        first_wrong += firsts[firsts >= 0].tolist()
    return _record(bits, bits - wrong_bits, sequences, right, first_wrong)


def evaluate_width(
    model: nn.Module,
    layout: Layout,
    n_bits: int,
    samples: int,
    eval_seed: int,
    device: torch.device,
    *,
    bit_budget: int = DEFAULT_BIT_BUDGET,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], object] | None = None,
) -> list[dict[str, Any]]:
    """Records for one width: random pairs first, then each structured case.

    Args:
        model: the network, in eval mode.
        layout: how sums are shown to it.
        n_bits: operand width.
        samples: random pairs at most (see :func:`pairs_at`).
        eval_seed: seed of the random pairs.
        device: where the model runs.
        bit_budget: random operand bits scored at most, see :func:`pairs_at`.
        chunk_size: steps per forward call when streaming; None: whole sums.
        progress: called with the number of answer bits of each chunk scored.
    """
    check_width(model, layout, n_bits)
    pairs = pairs_at(n_bits, samples, bit_budget)
    scored: list[tuple[RowScores, list[str]]] = []
    for source, labels in width_passes(n_bits, layout.operands, pairs, eval_seed):
        chunks = _chunks(model, layout, source, n_bits, device, chunk_size)
        scored.append((score_chunks(chunks, source.rows, progress), labels))

    records = []
    for case in ("random", *CASE_NAMES):
        chosen = [
            (row_scores, torch.tensor([label == case for label in labels]))
            for row_scores, labels in scored
        ]
        record: dict[str, Any] = {"n_bits": n_bits, "case": case}
        record.update(_rows_record(chosen))
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
    *,
    bit_budget: int = DEFAULT_BIT_BUDGET,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
) -> list[dict[str, Any]]:
    """Score every width in ``lengths``; return all records.

    Widths too wide for a model that cannot stream are refused before any
    work starts. ``progress`` shows a bar counted in answer bits.
    """
    for n_bits in lengths:
        check_width(model, layout, n_bits)
    total = sum(
        (pairs_at(n_bits, samples, bit_budget) + len(CASE_NAMES))
        * (n_bits + extra_bits(layout.operands))
        for n_bits in lengths
    )
    records: list[dict[str, Any]] = []
    with tqdm(
        total=total, unit="bit", unit_scale=True, leave=False, disable=not progress
    ) as bar:
        for n_bits in lengths:
            records += evaluate_width(
                model,
                layout,
                n_bits,
                samples,
                eval_seed,
                device,
                bit_budget=bit_budget,
                chunk_size=chunk_size,
                progress=bar.update,
            )
    return records


def evaluate_into(
    run: RunDir,
    model: nn.Module,
    layout: Layout,
    config: EvalConfig,
    device: torch.device,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Score the widths ``config`` names and record them in the run directory."""
    records = evaluate(
        model, layout, config.eval_lengths, config.eval_samples, config.eval_seed,
        device, progress,
    )  # fmt: skip
    settings = {"seed": config.eval_seed, "samples": config.eval_samples}
    run.write_lengths(records, settings)
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
