"""Pairs per second: binadd's batch generator against a per-sample Python one.

The reference draws each pair the way the original study did: two Python
``randint`` calls, ``bin()`` strings padded and reversed, digits copied into
NumPy arrays one sample at a time. binadd draws whole batches of random bits
(:func:`binadd.task.random_operands`) and encodes them with the exact sum
(:meth:`binadd.layouts.Layout.encode`). Both produce float inputs of shape
``(batch, n_bits + 1, 2)`` and float targets of shape ``(batch, n_bits + 1)``::

    python benchmarks/data.py                 # L = 10 and 1000
    python benchmarks/data.py --lengths 10 --seconds 0.5
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import numpy as np
import torch

from binadd.layouts import Example, Layout
from binadd.task import random_operands


def reference_pairs(
    batch_size: int, n_bits: int, rng: random.Random
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw and encode pairs one at a time through Python integers and strings.

    Returns:
        ``(inputs, targets)``: float tensors of shapes ``(batch, n_bits + 1, 2)``
        and ``(batch, n_bits + 1)``, least significant bit first.
    """
    steps = n_bits + 1
    inputs = np.zeros((batch_size, steps, 2))
    targets = np.zeros((batch_size, steps))
    for row in range(batch_size):
        a = rng.randint(0, 2**n_bits - 1)
        b = rng.randint(0, 2**n_bits - 1)
        # bin() gives the most significant digit first; pad, then reverse.
        digits = [bin(value)[2:].zfill(steps)[::-1] for value in (a, b, a + b)]
        inputs[row, :, 0] = np.asarray(list(digits[0]), dtype=int)
        inputs[row, :, 1] = np.asarray(list(digits[1]), dtype=int)
        targets[row] = np.asarray(list(digits[2]), dtype=int)
    as_float = torch.float32
    return torch.tensor(inputs, dtype=as_float), torch.tensor(targets, dtype=as_float)


def binadd_pairs(
    batch_size: int, n_bits: int, generator: torch.Generator, layout: Layout
) -> Example:
    """Draw and encode a batch the way binadd's training loop does."""
    return layout.encode(random_operands(batch_size, n_bits, 2, generator))


def pairs_per_second(
    draw: Callable[[], object], pairs_per_call: int, seconds: float
) -> float:
    """Call ``draw`` repeatedly for at least ``seconds``; return pairs per second."""
    draw()
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        draw()
        calls += 1
    return calls * pairs_per_call / elapsed


def measure(n_bits: int, seconds: float, batch_size: int) -> tuple[float, float]:
    """Pairs per second of the reference (batch 100) and of binadd."""
    rng, generator = random.Random(0), torch.Generator().manual_seed(0)
    layout = Layout()
    reference = pairs_per_second(
        lambda: reference_pairs(100, n_bits, rng), 100, seconds
    )
    ours = pairs_per_second(
        lambda: binadd_pairs(batch_size, n_bits, generator, layout),
        batch_size,
        seconds,
    )
    return reference, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="10,1000", help="widths, e.g. 10,1000")
    parser.add_argument("--batch-sizes", default="100,1000,10000")
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'n_bits':>7} {'batch':>6} {'reference/s':>12} {'binadd/s':>12} ratio")
    for n_bits in map(int, args.lengths.split(",")):
        for batch_size in map(int, args.batch_sizes.split(",")):
            reference, ours = measure(n_bits, args.seconds, batch_size)
            print(
                f"{n_bits:>7d} {batch_size:>6d} {reference:>12.4g} {ours:>12.4g}"
                f" {ours / reference:7.1f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
