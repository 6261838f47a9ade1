"""Compare training recipes: seeds solved, steps and time to solve, generalization.

Each variant is a set of flat config keys applied over binadd's defaults (or a
preset) with ``until_solved`` on; every seed trains in this process, one thread,
until solved or the step cap, then is scored at widths 1-20 (random pairs and the
structured carry cases) and at 1,000 bits (``--long-samples`` random pairs and
the carry cases). One JSON line per (variant, seed) goes to stdout, then a
summary row per variant. Lists inside a variant use ``;``::

    python benchmarks/recipe_sweep.py --seeds 0-19 --variant ''
    python benchmarks/recipe_sweep.py --seeds 0-9 \\
        --variant 'model=gru,hidden_size=5' --variant 'solve_lengths=10;20;200'
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import torch

from binadd.configure import build_config
from binadd.evaluate import evaluate, evaluate_width
from binadd.train import Trainer


def parse_seeds(text: str) -> list[int]:
    """Seeds like ``0-19`` or ``0,3,7``."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += range(int(low), int(high or low) + 1)
    return seeds


def parse_variant(text: str) -> dict[str, Any]:
    """Read ``key=value,key=value`` into flat config updates (numbers parsed)."""
    updates: dict[str, Any] = {}
    for part in filter(None, text.split(",")):
        key, _, raw = part.partition("=")
        value: Any = raw
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                continue
        if raw in ("true", "false"):
            value = raw == "true"
        if key.endswith("_lengths"):
            value = raw.replace(";", ",")
        updates[key] = value
    return updates


def train_seed(
    updates: dict[str, Any], seed: int, preset: str | None, long_samples: int
) -> dict:
    """Train one seed until solved (or the cap) and score it."""
    options = {"until_solved": True, **updates, "seed": seed}
    config = build_config(preset, None, options)
    device = torch.device("cpu")
    start = time.perf_counter()
    trainer = Trainer(config, device)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    while trainer.epoch < config.train.epochs and not trainer.solved:
        trainer.train_epoch()
        trainer.history.append({})
    seconds = time.perf_counter() - start
    model, layout = trainer.model, trainer.layout
    short = evaluate(model, layout, tuple(range(1, 21)), 1000, 7, device)
    long = evaluate_width(model, layout, 1000, long_samples, 7, device)
    return {
        "seed": seed,
        "solved_at": trainer.solved_at,
        "seconds": seconds,
        "setup": setup,
        "short_ok": all(r["sequence_accuracy"] == 1.0 for r in short),
        "long_random": long[0]["sequence_accuracy"],
        "long_cases": sum(r["sequence_accuracy"] == 1.0 for r in long[1:]),
    }


def summary(name: str, rows: list[dict]) -> str:
    solved = [r for r in rows if r["solved_at"] is not None]
    full = [r for r in solved if r["short_ok"] and r["long_random"] == 1.0]
    steps = statistics.median(r["solved_at"] for r in solved) if solved else None
    secs = statistics.median(r["seconds"] for r in solved) if solved else None
    return (
        f"{name} | solved {len(solved)}/{len(rows)}"
        f" | all widths + 1000 bits {len(full)}/{len(rows)}"
        f" | median steps {steps} | median s {secs if secs is None else round(secs, 2)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-9", help="seeds, e.g. 0-19")
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--preset", default=None)
    parser.add_argument(
        "--long-samples", type=int, default=200, help="random pairs at 1,000 bits"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    for variant in args.variant:
        updates = parse_variant(variant)
        rows = []
        for seed in parse_seeds(args.seeds):
            row = train_seed(updates, seed, args.preset, args.long_samples)
            rows.append(row)
            print(json.dumps({"variant": variant, **row}), flush=True)
        print(summary(variant, rows), flush=True)


if __name__ == "__main__":
    main()
