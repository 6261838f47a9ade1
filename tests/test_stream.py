"""Streaming evaluation: exact chunked targets, sources, oracle at 10^6 bits."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from binadd.config import ModelConfig
from binadd.errors import UsageError
from binadd.evaluate import (
    evaluate,
    evaluate_width,
    pairs_at,
    predict_sums,
    width_passes,
)
from binadd.layouts import Layout
from binadd.models import build_model
from binadd.stream import (
    GENERATION_BITS,
    WHOLE_SEQUENCE_LIMIT,
    CaseSource,
    RandomSource,
    TensorSource,
    case_columns,
    score_chunks,
    stream_chunks,
    whole_chunks,
)
from binadd.task import (
    CASE_NAMES,
    add_bits,
    int_to_bits,
    random_operands,
    structured_case,
)
from stream_oracle import OracleAdder

CPU = torch.device("cpu")


def _operand_bits(values: list[list[int]], n_bits: int) -> torch.Tensor:
    """Rows of Python integers as bits, shape (rows, operands, n_bits)."""
    return torch.stack(
        [torch.stack([int_to_bits(v, n_bits) for v in row]) for row in values]
    )


class _ZeroModel(torch.nn.Module):
    """Answers 0 everywhere; enough to drive the targets through the stream."""

    streamable = True

    def forward(self, inputs: torch.Tensor, state: object = None) -> tuple:
        return -torch.ones(inputs.shape[:2]), state


@pytest.mark.parametrize(
    ("operands", "n_bits", "chunk_size"),
    [(2, 10_000, 7), (2, 12_345, 64), (3, 1_000, 1), (5, 10_000, 64)],
)
def test_chunked_targets_match_python_integers(
    operands: int, n_bits: int, chunk_size: int
) -> None:
    rng = random.Random(n_bits)
    values = [[rng.getrandbits(n_bits) for _ in range(operands)] for _ in range(3)]
    values.append([2**n_bits - 1] * operands)  # the largest carry out
    source = TensorSource(_operand_bits(values, n_bits))
    model = OracleAdder() if operands == 2 else _ZeroModel()

    chunks = stream_chunks(model, source, n_bits, operands, CPU, chunk_size)
    truth = torch.cat([chunk.truth for chunk in chunks], dim=1)
    for row, terms in zip(truth, values, strict=True):
        assert torch.equal(row, int_to_bits(sum(terms), truth.shape[1]))


def test_random_source_ignores_how_it_is_read() -> None:
    n_bits = 2 * GENERATION_BITS + 123
    whole = RandomSource(3, n_bits, 2, torch.Generator().manual_seed(5))
    expected = whole.take(0, n_bits + 1)

    pieces, start = [], 0
    reader = RandomSource(3, n_bits, 2, torch.Generator().manual_seed(5))
    for size in [7, 64, GENERATION_BITS + 5, 1, n_bits]:
        end = min(start + size, n_bits + 1)
        pieces.append(reader.take(start, end))
        start = end
    assert torch.equal(torch.cat(pieces, dim=2), expected)
    assert int(expected[:, :, n_bits:].sum()) == 0  # the pad step reads zero


def test_random_source_draws_like_one_call_up_to_a_block() -> None:
    source = RandomSource(4, 1000, 2, torch.Generator().manual_seed(9))
    plain = random_operands(4, 1000, 2, torch.Generator().manual_seed(9))
    assert torch.equal(source.take(0, 1000), plain)


@pytest.mark.parametrize("n_bits", [1, 2, 3, 64, 65, 1000])
def test_case_columns_match_structured_cases(n_bits: int) -> None:
    rng = random.Random(n_bits)
    cuts = sorted({0, n_bits + 1, *(rng.randrange(n_bits + 1) for _ in range(3))})
    for name in CASE_NAMES:
        columns = [
            case_columns(name, n_bits, 2, start, end)
            for start, end in itertools.pairwise(cuts)
        ]
        expected = structured_case(name, n_bits)[0]
        joined = torch.cat(columns, dim=1)
        assert torch.equal(joined[:, :n_bits], expected)
        assert int(joined[:, n_bits:].sum()) == 0


def test_oracle_stays_exact_at_a_million_bits() -> None:
    n_bits = 10**6
    rng = random.Random(0)
    a, b = rng.getrandbits(n_bits), rng.getrandbits(n_bits)
    bits = _operand_bits([[a, b], [2**n_bits - 1, 1]], n_bits)

    predicted = predict_sums(OracleAdder(), Layout(), bits, CPU, chunk_size=65_536)
    assert torch.equal(predicted[0], int_to_bits(a + b, n_bits + 1))
    assert torch.equal(predicted[1], int_to_bits(2**n_bits, n_bits + 1))

    records = evaluate_width(OracleAdder(), Layout(), n_bits, 3, 1, CPU)
    assert [r["case"] for r in records] == ["random", *CASE_NAMES]
    assert all(r["sequence_accuracy"] == 1.0 for r in records)
    assert records[0]["samples"] == 3


def test_one_flipped_bit_is_found_across_chunks() -> None:
    records = evaluate_width(
        OracleAdder(flip_at=5000), Layout(), 9000, 4, 1, CPU, chunk_size=64
    )
    for record in records:
        assert record["sequence_accuracy"] == 0.0
        assert record["first_wrong_min"] == 5000
        assert record["bit_accuracy"] == 1 - 1 / 9001


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_chunked_and_whole_evaluation_agree(kind: str) -> None:
    torch.manual_seed(3)
    model = build_model(ModelConfig(kind=kind, hidden_size=6), 2).eval()
    lengths = (1, 9, 300, 5000)
    whole = evaluate(model, Layout(), lengths, 40, 11, CPU, chunk_size=None)
    for chunk_size in (7, 64):
        chunked = evaluate(model, Layout(), lengths, 40, 11, CPU, chunk_size=chunk_size)
        assert chunked == whole


def test_scores_count_every_row_and_first_error() -> None:
    bits = _operand_bits([[5, 3], [0, 0]], 4)
    model = OracleAdder(flip_at=2)
    chunks = stream_chunks(model, TensorSource(bits), 4, 2, CPU, chunk_size=2)
    scores = score_chunks(chunks, 2)
    assert scores.bits == 5
    assert scores.wrong_bits.tolist() == [1, 1]
    assert scores.first_wrong.tolist() == [2, 2]


def test_bit_budget_sets_the_pairs_per_width() -> None:
    assert pairs_at(20, 1000) == 1000
    assert pairs_at(10**4, 1000) == 1000
    assert pairs_at(10**5, 1000) == 100
    assert pairs_at(10**7, 1000) == 1
    assert pairs_at(10**8, 1000) == 1
    assert pairs_at(10**5, 1000, bit_budget=10**9) == 1000


def test_passes_group_rows_and_carry_the_cases() -> None:
    passes = width_passes(10**6, 2, 40, 1)
    labels = [label for _, row_labels in passes for label in row_labels]
    assert labels.count("random") == 40
    assert labels[-len(CASE_NAMES) :] == list(CASE_NAMES)
    assert all(source.rows <= 32 for source, _ in passes)
    assert isinstance(width_passes(10, 2, 5, 1)[0][0].take(0, 1), torch.Tensor)
    assert CaseSource(CASE_NAMES, 5, 2).rows == len(CASE_NAMES)


def test_models_that_cannot_stream_have_a_stated_limit() -> None:
    bidirectional = build_model(ModelConfig(bidirectional=True), 2).eval()
    records = evaluate(bidirectional, Layout(), (1, 30), 10, 1, CPU)
    assert len(records) == 2 * (1 + len(CASE_NAMES))
    with pytest.raises(UsageError, match=str(WHOLE_SEQUENCE_LIMIT)):
        evaluate(bidirectional, Layout(), (5, WHOLE_SEQUENCE_LIMIT + 1), 10, 1, CPU)
    msb = Layout(bit_order="msb")
    assert evaluate(OracleAdder(), msb, (8,), 10, 1, CPU)[0]["samples"] == 10
    with pytest.raises(UsageError, match="cannot stream"):
        predict_sums(OracleAdder(), msb, torch.zeros(1, 2, 10**5), CPU)


def test_whole_sequences_go_through_the_model_a_few_rows_at_a_time() -> None:
    torch.manual_seed(2)
    model = build_model(ModelConfig(bidirectional=True), 2).eval()
    layout = Layout(bit_order="msb")
    bits = random_operands(120, 5000, 2, torch.Generator().manual_seed(3))
    (chunk,) = whole_chunks(model, layout, TensorSource(bits), 5000, CPU)
    with torch.no_grad():
        logits, _ = model(layout.encode(bits).inputs)
    assert torch.equal(chunk.predicted, layout.decode(logits > 0))
    assert torch.equal(chunk.truth, add_bits(bits))


def test_transformer_and_sequential_layouts_are_scored_whole() -> None:
    transformer = build_model(ModelConfig(kind="transformer"), 2).eval()
    records = evaluate(transformer, Layout(), (3, 40), 20, 1, CPU)
    assert [r["samples"] for r in records[:: len(CASE_NAMES) + 1]] == [20, 20]
    with pytest.raises(UsageError, match="at most 20000 steps"):
        evaluate(transformer, Layout(), (3, 30_000), 20, 1, CPU)
    sequential = Layout(arrangement="sequential")
    lstm = build_model(ModelConfig(), sequential.input_size).eval()
    assert len(evaluate(lstm, sequential, (2, 9), 10, 1, CPU)) == 14
    with pytest.raises(UsageError, match="cannot read 90003 steps"):
        evaluate(lstm, sequential, (30_000,), 10, 1, CPU)


def test_chunked_and_whole_agree_past_a_generation_block() -> None:
    torch.manual_seed(4)
    model = build_model(ModelConfig(), 2).eval()
    n_bits = GENERATION_BITS + 4321
    whole = evaluate_width(model, Layout(), n_bits, 2, 5, CPU, chunk_size=None)
    chunked = evaluate_width(model, Layout(), n_bits, 2, 5, CPU, chunk_size=1000)
    assert chunked == whole
