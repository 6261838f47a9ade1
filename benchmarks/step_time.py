"""Where a training step's time goes: data, forward, loss, backward, optimizer.

Times each part of :meth:`binadd.train.Trainer.update` (and the batch draw and
the running tallies around it) on one thread, over many steps, and prints the
mean milliseconds per part. The parts are run in the same order as in training
and no part waits for another, so on the CPU the split is exact::

    python benchmarks/step_time.py                   # the default recipe
    python benchmarks/step_time.py --preset notebook
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections import defaultdict

import torch
from torch import nn

from binadd.configure import build_config
from binadd.metrics import Tally, masked_loss
from binadd.recipe import learning_rate
from binadd.train import Trainer


def split_step(trainer: Trainer, times: dict[str, float]) -> None:
    """One training step, its parts timed into ``times`` (seconds, summed)."""
    train, clock = trainer.config.train, time.perf_counter
    marks = [("start", clock())]
    example = trainer.draw_batch()
    marks.append(("data", clock()))
    for group in trainer.optimizer.param_groups:
        group["lr"] = learning_rate(train, trainer.steps)
    logits, _ = trainer.model(example.inputs)
    marks.append(("forward", clock()))
    loss = masked_loss(logits, example, train.loss)
    marks.append(("loss", clock()))
    trainer.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    marks.append(("backward", clock()))
    if train.grad_clip > 0:
        nn.utils.clip_grad_norm_(trainer.model.parameters(), train.grad_clip)
    marks.append(("clip", clock()))
    trainer.optimizer.step()
    trainer.steps += 1
    marks.append(("optimizer", clock()))
    Tally().add(logits.detach(), example)
    marks.append(("tally", clock()))
    for (_, before), (name, after) in itertools.pairwise(marks):
        times[name] += after - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default=None, help="e.g. notebook")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = build_config(args.preset)
    trainer = Trainer(config, torch.device("cpu"))
    times: dict[str, float] = defaultdict(float)
    for _ in range(50):
        split_step(trainer, defaultdict(float))
    for _ in range(args.steps):
        split_step(trainer, times)

    total = sum(times.values())
    print(f"{'part':>10} {'ms/step':>8} {'share':>6}")
    for name, seconds in times.items():
        share = seconds / total
        print(f"{name:>10} {1e3 * seconds / args.steps:8.3f} {share:6.1%}")
    print(f"{'total':>10} {1e3 * total / args.steps:8.3f}")


if __name__ == "__main__":
    main()
