"""Measure length generalization of every model on every layout, several seeds.

For each (model, layout, seed) this trains one short run through the real
command line (``binadd train``), scores it at the training width, at 10x and at
100x it (``binadd evaluate``), and appends one JSON line to ``results.jsonl`` in
the output folder. Rows already there are skipped, so an interrupted run picks
up where it stopped. ``--table`` prints the Markdown tables of the README's
models section from that file.

Run it alone, in the background, one torch thread::

    PYTHONPATH=src python benchmarks/models_table.py --out runs/models-table
    PYTHONPATH=src python benchmarks/models_table.py --out runs/models-table --table
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from binadd.cli import main as binadd

MODELS = ("lstm", "gru", "rnn", "transformer")
LAYOUTS = ("parallel", "sequential")
SEEDS = (0, 1, 2)
N_BITS = 8
FACTORS = (1, 10, 100)
# Random pairs scored at each factor of the training width.
SAMPLES = {1: 1000, 10: 1000, 100: 100}
# One short recipe for every model: 8 epochs x 250 steps of 64 pairs, constant
# lr, no clipping, every step taken (no stop when solved).
RECIPE = [
    "--grad-clip", "0", "--lr-schedule", "constant", "--no-until-solved",
    "--n-bits", str(N_BITS), "--hidden-size", "32", "--num-layers", "1",
    "--d-model", "32", "--num-heads", "4", "--positions", "sinusoidal",
    "--lr", "0.003", "--batch-size", "64", "--epochs", "8",
    "--steps-per-epoch", "250", "--test-batches", "4", "--threads", "1",
]  # fmt: skip
# (name, layout, extra options) of the bit-order comparison, LSTM only.
ORDERS = (
    ("msb", "parallel", ["--bit-order", "msb"]),
    ("msb+bidirectional", "parallel", ["--bit-order", "msb", "--bidirectional"]),
)


def trials() -> list[dict[str, Any]]:
    """Every (model, layout, order, seed) to measure, with its options."""
    rows = []
    for seed in SEEDS:
        for layout in LAYOUTS:
            for model in MODELS:
                layers = "2" if model == "transformer" else "1"
                extra = ["--num-layers", layers]
                rows.append(dict(model=model, layout=layout, order="lsb", seed=seed,
                                 options=extra))  # fmt: skip
        for order, layout, extra in ORDERS:
            rows.append(dict(model="lstm", layout=layout, order=order, seed=seed,
                             options=extra))  # fmt: skip
    return rows


def key(row: dict[str, Any]) -> str:
    return f"{row['model']}/{row['layout']}/{row['order']}/{row['seed']}"


def random_accuracy(run: Path, n_bits: int) -> float:
    with (run / "lengths.csv").open(newline="") as stream:
        for record in csv.DictReader(stream):
            if int(record["n_bits"]) == n_bits and record["case"] == "random":
                return float(record["sequence_accuracy"])
    raise RuntimeError(f"{run} has no random record at {n_bits} bits")


def measure(row: dict[str, Any], out: Path) -> dict[str, Any]:
    """Train and score one trial through the command line."""
    run = out / key(row).replace("/", "-")
    argv = ["train", *RECIPE, "--model", row["model"], "--layout", row["layout"],
            "--seed", str(row["seed"]), *row["options"], "--out", str(run),
            "--force", "--eval-lengths", str(N_BITS),
            "--eval-samples", str(SAMPLES[1])]  # fmt: skip
    if binadd(argv) != 0:
        raise RuntimeError(f"training failed: {argv}")
    result = {k: row[k] for k in ("model", "layout", "order", "seed")}
    for factor in FACTORS:
        width = N_BITS * factor
        if factor > 1:
            argv = ["evaluate", str(run), "--lengths", str(width),
                    "--samples", str(SAMPLES[factor]), "--threads", "1"]  # fmt: skip
            if binadd(argv) != 0:
                raise RuntimeError(f"evaluation failed: {argv}")
        result[f"x{factor}"] = random_accuracy(run, width)
    return result


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: mean and per-seed sequence accuracy at each factor."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for result in results:
        group = (result["layout"], result["order"], result["model"])
        groups.setdefault(group, []).append(result)
    head = [f"{N_BITS * f} bits ({f}x)" for f in FACTORS]
    lines = ["| layout | order | model | " + " | ".join(head) + " |",
             "|---|---|---|" + "---|" * len(FACTORS)]  # fmt: skip
    for (layout, order, model), rows in sorted(groups.items()):
        rows.sort(key=lambda r: r["seed"])
        cells = []
        for factor in FACTORS:
            values = [r[f"x{factor}"] for r in rows]
            seeds = " / ".join(f"{v:.3f}" for v in values)
            cells.append(f"{statistics.mean(values):.3f} ({seeds})")
        lines.append(f"| {layout} | {order} | {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/models-table"))
    parser.add_argument("--table", action="store_true", help="print the tables")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.jsonl"
    done = [json.loads(line) for line in path.open()] if path.is_file() else []
    if args.table:
        print(table(done))
        return 0
    seen = {key(result) for result in done}
    for row in trials():
        if key(row) in seen:
            continue
        result = measure(row, args.out)
        with path.open("a") as stream:
            stream.write(json.dumps(result) + "\n")
        print(json.dumps(result), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
