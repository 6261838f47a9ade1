"""Smoke tests of benchmarks/data.py: both generators give right sums (no timing)."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from binadd.layouts import Layout
from binadd.task import add_bits, bits_to_int

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> ModuleType:
    """Import a benchmark script by path (benchmarks is not a package)."""
    path = ROOT / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def data() -> ModuleType:
    return load("data")


@pytest.mark.parametrize("n_bits", [1, 10, 70])
def test_reference_generator_adds_like_the_task(data: ModuleType, n_bits: int) -> None:
    inputs, targets = data.reference_pairs(50, n_bits, random.Random(n_bits))
    assert inputs.shape == (50, n_bits + 1, 2)
    assert targets.shape == (50, n_bits + 1)
    assert float(inputs[:, -1].abs().sum()) == 0.0
    operand_bits = inputs[:, :n_bits].transpose(1, 2).to(torch.uint8)
    assert torch.equal(add_bits(operand_bits), targets.to(torch.uint8))
    for row in range(3):
        a, b = (bits_to_int(operand_bits[row, k]) for k in range(2))
        assert bits_to_int(targets[row].to(torch.uint8)) == a + b


def test_both_generators_encode_alike(data: ModuleType) -> None:
    generator = torch.Generator().manual_seed(0)
    example = data.binadd_pairs(40, 12, generator, Layout())
    inputs, targets = data.reference_pairs(40, 12, random.Random(0))
    assert example.inputs.shape == inputs.shape
    assert example.targets.shape == targets.shape
    assert example.inputs.dtype == inputs.dtype == torch.float32
    operand_bits = example.inputs[:, :12].transpose(1, 2).to(torch.uint8)
    assert torch.equal(add_bits(operand_bits), example.targets.to(torch.uint8))


def test_pairs_per_second_counts_calls(data: ModuleType) -> None:
    calls: list[int] = []
    rate = data.pairs_per_second(lambda: calls.append(1), 10, 0.01)
    assert rate > 0
    assert len(calls) >= 2


def test_time_to_solve_original_recipe_runs(data: ModuleType) -> None:
    bench = load("time_to_solve")
    assert bench.parse_seeds("0-2,5") == [0, 1, 2, 5]
    model = bench.OriginalAdder()
    logits, _ = model(torch.zeros(3, 11, 2))
    assert logits.shape == (3, 11)
