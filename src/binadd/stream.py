"""Streaming: feed very long sums to a recurrent model in chunks of steps.

A causal recurrent model shown the ``parallel`` layout in ``lsb`` order reads
the operands one bit position per step, so a sum of any width can be fed in
chunks of ``chunk_size`` steps, the model's state carried from one chunk to the
next, while the targets are computed chunk by chunk with
:func:`binadd.task.add_with_carry` passing the carry on. Nothing of the width's
size is ever held: memory depends on the chunk and the number of rows only.

Operand bits come from a *source*, an object that hands out the columns
``[start, end)`` of its rows (positions past the operand width read as zero,
the pad steps of the layout). Random sources draw their bits in fixed blocks of
``GENERATION_BITS`` positions from their generator, whatever the chunk size,
so chunked and whole-sequence evaluation see exactly the same pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import nn

from binadd.layouts import Layout
from binadd.task import add_bits, add_with_carry, extra_bits, random_operands

# Steps fed to the model in one forward call when streaming.
DEFAULT_CHUNK_SIZE = 1 << 16
# Positions drawn per call of the random generator; fixed, so that the pairs
# do not depend on the chunk size.
GENERATION_BITS = 1 << 16
# Most steps of a sum scored whole when the model or layout cannot stream.
WHOLE_SEQUENCE_LIMIT = 1 << 16
# Rows x steps of one whole-sequence forward call; bounds its memory.
WHOLE_FORWARD_STEPS = 1 << 18


class Source(Protocol):
    """Operand bits of ``rows`` sums of one width, read left to right."""

    rows: int

    def take(self, start: int, end: int) -> torch.Tensor:
        """Bits at positions ``[start, end)``: uint8, (rows, operands, end - start).

        Calls must not go backwards: ``start`` never precedes an earlier start.
        """
        ...


def _pad_to(bits: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad the last dimension of ``bits`` up to ``length``."""
    return torch.nn.functional.pad(bits, (0, length - bits.shape[-1]))


@dataclass
class TensorSource:
    """Operand bits already in memory, shape (rows, operands, n_bits)."""

    bits: torch.Tensor
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        self.rows = self.bits.shape[0]

    def take(self, start: int, end: int) -> torch.Tensor:
        return _pad_to(self.bits[:, :, start:end], end - start)


@dataclass
class RandomSource:
    """Uniform random operands drawn block by block from ``generator``.

    The bits of block ``j`` are one call ``random_operands(rows, block, ...)``
    for positions ``[j * GENERATION_BITS, (j + 1) * GENERATION_BITS)``, in order,
    so a width up to ``GENERATION_BITS`` draws exactly as one plain call would.
    """

    rows: int
    n_bits: int
    operands: int
    generator: torch.Generator
    _buffer: torch.Tensor = field(init=False)
    _buffer_start: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._buffer = torch.zeros(self.rows, self.operands, 0, dtype=torch.uint8)

    def take(self, start: int, end: int) -> torch.Tensor:
        filled = self._buffer_start + self._buffer.shape[2]
        if start < self._buffer_start or (start > filled and filled < self.n_bits):
            raise ValueError("a random source is read forwards, without gaps")
        # Forget what lies before start; draw whole blocks up to end.
        blocks = [self._buffer[:, :, start - self._buffer_start :]]
        while filled < min(end, self.n_bits):
            size = min(GENERATION_BITS, self.n_bits - filled)
            blocks.append(
                random_operands(self.rows, size, self.operands, self.generator)
            )
            filled += size
        self._buffer = torch.cat(blocks, dim=2) if len(blocks) > 1 else blocks[0]
        self._buffer_start = start
        return _pad_to(self._buffer[:, :, : end - start], end - start)


def _alternating(start: int, end: int, first: int) -> torch.Tensor:
    """Bits ``(position + first) % 2`` for positions in ``[start, end)``."""
    return ((torch.arange(start, end) + first) % 2).to(torch.uint8)


def case_columns(
    name: str, n_bits: int, operands: int, start: int, end: int
) -> torch.Tensor:
    """Columns ``[start, end)`` of a structured case, shape (operands, end - start).

    The same bits as :func:`binadd.task.structured_case` (positions past
    ``n_bits`` are zero), built without holding the whole width.
    """
    stop = min(end, n_bits)
    length = max(stop - start, 0)
    bits = torch.zeros(operands, end - start, dtype=torch.uint8)
    if name in ("carry_chain", "all_ones"):
        bits[0 if name == "carry_chain" else slice(None), :length] = 1
        if name == "carry_chain" and start == 0 and length:
            bits[1, 0] = 1
    elif name in ("alternating", "alternating_plus_one"):
        bits[0, :length] = _alternating(start, start + length, 1)
        bits[1, :length] = _alternating(start, start + length, 0)
        if name == "alternating_plus_one" and start == 0 and length:
            bits[1, 0] = 1
    elif name == "top_bits":
        if start <= n_bits - 1 < end:
            bits[:, n_bits - 1 - start] = 1
    elif name != "zeros":
        raise ValueError(f"unknown structured case {name!r}")
    return bits


@dataclass
class CaseSource:
    """The structured carry cases ``names`` at one width, one row each."""

    names: Sequence[str]
    n_bits: int
    operands: int
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        self.rows = len(self.names)

    def take(self, start: int, end: int) -> torch.Tensor:
        columns = [
            case_columns(name, self.n_bits, self.operands, start, end)
            for name in self.names
        ]
        return torch.stack(columns)


@dataclass
class StackedSource:
    """Several sources of one width read together, their rows one after another."""

    parts: Sequence[Source]
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        self.rows = sum(part.rows for part in self.parts)

    def take(self, start: int, end: int) -> torch.Tensor:
        return torch.cat([part.take(start, end) for part in self.parts])


def can_stream(model: nn.Module, layout: Layout) -> bool:
    """Whether ``model`` on ``layout`` can be fed in chunks with its state."""
    return layout.streamable and bool(getattr(model, "streamable", False))


@dataclass(frozen=True)
class Chunk:
    """The answer bits of steps ``[start, start + width)`` of every row."""

    start: int
    predicted: torch.Tensor
    truth: torch.Tensor


@torch.no_grad()
def stream_chunks(
    model: nn.Module,
    source: Source,
    n_bits: int,
    operands: int,
    device: torch.device,
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
) -> Iterator[Chunk]:
    """Run ``model`` over the sums of ``source`` chunk by chunk.

    The model must be causal and recurrent and see the ``parallel`` ``lsb``
    layout (see :func:`can_stream`). Step ``t`` shows bit ``t`` of every
    operand; the last ``extra_bits(operands)`` steps are zeros.

    Args:
        model: maps (inputs, state) to (logits, state).
        source: the operand bits.
        n_bits: operand width.
        operands: numbers per sum.
        device: where the model runs.
        chunk_size: steps per forward call; None feeds the whole sequence at once.

    Yields:
        Chunks of predicted and true sum bits (uint8, on the CPU), in order.
    """
    steps = n_bits + extra_bits(operands)
    size = steps if chunk_size is None else chunk_size
    state = None
    carry = torch.zeros(source.rows, dtype=torch.int64)
    for start in range(0, steps, size):
        end = min(start + size, steps)
        operand_bits = source.take(start, end)
        truth, carry = add_with_carry(operand_bits, carry)
        # (rows, operands, width) -> (rows, width, operands), one step per bit.
        inputs = operand_bits.transpose(1, 2).float().to(device)
        logits, state = model(inputs, state)
        predicted = (logits > 0).to(torch.uint8).cpu()
        yield Chunk(start, predicted, truth)


@dataclass
class RowScores:
    """Per row of a pass: answer bits, wrong bits, first wrong bit (-1: none)."""

    bits: int
    wrong_bits: torch.Tensor
    first_wrong: torch.Tensor

    @property
    def right(self) -> torch.Tensor:
        return self.first_wrong < 0


def score_chunks(
    chunks: Iterator[Chunk], rows: int, progress: Callable[[int], object] | None = None
) -> RowScores:
    """Count wrong bits and find the first wrong bit of each row.

    Args:
        chunks: chunks of predicted and true bits, in order of position.
        rows: rows per chunk.
        progress: called with the number of bits of each chunk scored.
    """
    scores = RowScores(
        0,
        torch.zeros(rows, dtype=torch.int64),
        torch.full((rows,), -1, dtype=torch.int64),
    )
    for chunk in chunks:
        wrong = chunk.predicted != chunk.truth
        scores.bits += wrong.shape[1]
        scores.wrong_bits += wrong.sum(dim=1)
        fresh = wrong.any(dim=1) & (scores.first_wrong < 0)
        if bool(fresh.any()):
            where = chunk.start + wrong.to(torch.int8).argmax(dim=1)
            scores.first_wrong = torch.where(fresh, where, scores.first_wrong)
        if progress is not None:
            progress(wrong.numel())
    return scores


@torch.no_grad()
def whole_chunks(
    model: nn.Module, layout: Layout, source: Source, n_bits: int, device: torch.device
) -> Iterator[Chunk]:
    """One chunk holding whole sums, through the layout's own encoding.

    For models or layouts that cannot stream; the caller bounds the width. The
    rows go through the model a few at a time, ``WHOLE_FORWARD_STEPS`` steps in
    all per call.
    """
    operand_bits = source.take(0, n_bits)
    rows = max(1, WHOLE_FORWARD_STEPS // layout.steps(n_bits))
    predicted = []
    for part in operand_bits.split(rows):
        example = layout.encode(part.to(device))
        logits, _ = model(example.inputs)
        predicted.append(layout.decode((logits > 0).cpu()))
    yield Chunk(0, torch.cat(predicted), add_bits(operand_bits))
