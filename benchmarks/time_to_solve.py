"""Time to a correct adder: the original recipe against binadd's default, per seed.

The original recipe is reimplemented here from its description: an LSTM with 5
hidden units and a linear read-out through a sigmoid, Adam at lr 0.001, batches
of 100 pairs at L = 10 drawn one sample at a time in Python (see
``benchmarks/data.py``), half the summed binary cross-entropy, and a fixed budget
of 10 epochs of 250 steps. binadd's default is ``binadd train`` with no options:
its own data, its own stop-when-solved check.

Both are timed on one thread, one seed after the other (original, then binadd),
so load from other processes falls on both alike. "Solved" means every sum of a
fixed held-out set of 1,000 pairs at L = 10 is right; the original is checked
every 25 steps with the clock paused, binadd's time includes its own checks::

    python benchmarks/time_to_solve.py                # seeds 0-19
    python benchmarks/time_to_solve.py --seeds 0-3    # a quick look
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from binadd.configure import build_config
from binadd.layouts import Example, Layout
from binadd.recipe import all_right, draw_held_out
from binadd.train import Trainer

N_BITS = 10
CHECK_EVERY = 25


def _load_sibling(name: str) -> Any:
    """Import ``benchmarks/NAME.py`` by path (benchmarks is not a package)."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"binadd_benchmark_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


reference_pairs = _load_sibling("data").reference_pairs
parse_seeds = _load_sibling("recipe_sweep").parse_seeds


class OriginalAdder(nn.Module):
    """LSTM, 5 hidden units, one sigmoid probability per step."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(2, 5, batch_first=True)
        self.read_out = nn.Linear(5, 1)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, None]:
        outputs, _ = self.lstm(inputs)
        # Logits for the shared held-out check; training applies the sigmoid.
        return self.read_out(outputs).squeeze(-1), None


def held_out() -> list[Example]:
    """The fixed held-out set both recipes are judged on."""
    device = torch.device("cpu")
    return draw_held_out(Layout(), N_BITS, 1000, 1000, 4_242_424, device)


def original_time_to_solve(seed: int, test: list[Example]) -> dict[str, Any]:
    """Train the original recipe; return steps and seconds to the first solve."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = OriginalAdder()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    seconds = 0.0
    for step in range(1, 10 * 250 + 1):
        start = time.perf_counter()
        inputs, targets = reference_pairs(100, N_BITS, rng)
        probabilities = torch.sigmoid(model(inputs)[0])
        loss = 0.5 * nn.functional.binary_cross_entropy(
            probabilities, targets, reduction="sum"
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seconds += time.perf_counter() - start
        if step % CHECK_EVERY == 0 and all_right(model.eval(), test):
            return {"steps": step, "seconds": seconds}
        model.train()
    return {"steps": None, "seconds": math.inf}


def binadd_time_to_solve(seed: int, test: list[Example]) -> dict[str, Any]:
    """Train binadd's default config until it stops itself; time all of it."""
    config = build_config(options={"seed": seed})
    start = time.perf_counter()
    trainer = Trainer(config, torch.device("cpu"))
    while trainer.epoch < config.train.epochs and not trainer.solved:
        trainer.train_epoch()
        trainer.history.append({})
    seconds = time.perf_counter() - start
    if trainer.solved and all_right(trainer.model.eval(), test):
        return {"steps": trainer.solved_at, "seconds": seconds}
    return {"steps": None, "seconds": math.inf}


def report(rows: list[dict[str, Any]]) -> None:
    """Print the median times, their ratio and the fractions solved."""
    for name in ("original", "binadd"):
        solved = sum(row[name]["steps"] is not None for row in rows)
        median = statistics.median(row[name]["seconds"] for row in rows)
        print(f"{name:>8}: solved {solved}/{len(rows)}, median time {median:.3f} s")
    original = statistics.median(row["original"]["seconds"] for row in rows)
    ours = statistics.median(row["binadd"]["seconds"] for row in rows)
    ratios = [row["original"]["seconds"] / row["binadd"]["seconds"] for row in rows]
    print(f"median time ratio (original / binadd): {original / ours:.1f}x")
    print(f"median of per-seed ratios: {statistics.median(ratios):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-19", help="seeds, e.g. 0-19 or 0,5")
    args = parser.parse_args()
    torch.set_num_threads(1)
    test = held_out()
    print(
        f"{'seed':>4} {'orig steps':>10} {'orig s':>8} {'binadd steps':>12}"
        f" {'binadd s':>8} {'ratio':>7}"
    )
    rows = []
    for seed in parse_seeds(args.seeds):
        row = {
            "original": original_time_to_solve(seed, test),
            "binadd": binadd_time_to_solve(seed, test),
        }
        rows.append(row)
        original, ours = row["original"], row["binadd"]
        print(
            f"{seed:>4d} {original['steps']!s:>10} {original['seconds']:8.3f}"
            f" {ours['steps']!s:>12} {ours['seconds']:8.3f}"
            f" {original['seconds'] / ours['seconds']:6.1f}x",
            flush=True,
        )
    report(rows)


if __name__ == "__main__":
    main()
