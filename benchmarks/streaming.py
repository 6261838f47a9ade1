"""Streaming evaluation against a plain whole-sequence nn.LSTM forward.

Both sides score the same sums with the same model (binadd's default LSTM,
hidden size 5, seed 0) on the same operand bits, one torch thread:

- plain: ``Layout.encode`` the whole batch (targets by ``add_bits``), one
  ``model(inputs)`` call over every step, compare the thresholded logits;
- streaming: :func:`binadd.stream.stream_chunks` feeds 65536 steps at a time,
  carrying the LSTM state and the carry, and :func:`score_chunks` compares.

Throughput is answer bits scored per CPU second (rows x (n_bits + 1) / seconds),
the median of ``--repeats`` runs, the two sides taking turns to go first so
that load from other processes hits both alike. Peak memory is measured in a fresh child
process per side: the child's peak resident set size (``VmHWM``, where Linux
has it, else ``ru_maxrss``) after the run, and the same before it (imports,
model, operand bits) so that the cost of the run itself reads as the
difference. The streaming child draws its pair chunk by chunk (a
:class:`RandomSource`); the plain child must hold it whole.

Run: ``PYTHONPATH=src python benchmarks/streaming.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

from binadd.config import ModelConfig
from binadd.layouts import Layout
from binadd.models import build_model
from binadd.stream import (
    DEFAULT_CHUNK_SIZE,
    RandomSource,
    Source,
    TensorSource,
    score_chunks,
    stream_chunks,
)
from binadd.task import random_operands

CPU = torch.device("cpu")


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(), 2).eval()


@torch.no_grad()
def plain_wrong_rows(model: torch.nn.Module, operand_bits: torch.Tensor) -> int:
    """Whole-sequence forward; the number of wrong sums."""
    example = Layout().encode(operand_bits)
    logits, _ = model(example.inputs)
    return int(((logits > 0).float() != example.targets).any(dim=1).sum())


def stream_wrong_rows(model: torch.nn.Module, source: Source, n_bits: int) -> int:
    """Chunked forward with the state carried over; the number of wrong sums."""
    chunks = stream_chunks(model, source, n_bits, 2, CPU, DEFAULT_CHUNK_SIZE)
    return int((~score_chunks(chunks, source.rows).right).sum())


def _timed(run: Callable[[], int]) -> tuple[float, int]:
    """CPU seconds of ``run`` and its result.

    NOTE: CPU time of this process, not wall time: the benchmark shares its
    machine, and with one thread the two agree on an idle machine.
    """
    start = time.process_time()
    result = run()
    return time.process_time() - start, result


def throughput(rows: int, n_bits: int, repeats: int) -> dict[str, float]:
    """Answer bits per second of both sides on the same sums (median of runs)."""
    model = _model()
    bits = random_operands(rows, n_bits, 2, torch.Generator().manual_seed(1))
    sides = {
        "plain": lambda: plain_wrong_rows(model, bits),
        "stream": lambda: stream_wrong_rows(model, TensorSource(bits), n_bits),
    }
    seconds: dict[str, list[float]] = {"plain": [], "stream": []}
    for repeat in range(repeats):
        # Alternate which side goes first, so that both meet the same load.
        order = ["plain", "stream"] if repeat % 2 == 0 else ["stream", "plain"]
        wrong = {}
        for side in order:
            elapsed, wrong[side] = _timed(sides[side])
            seconds[side].append(elapsed)
        assert wrong["plain"] == wrong["stream"], "the two sides must agree"
    answer_bits = rows * (n_bits + 1)
    return {
        side: answer_bits / statistics.median(times) for side, times in seconds.items()
    }


def _max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    NOTE: Linux's ``ru_maxrss`` of a child started by fork and exec counts the
    parent's resident size at the fork, so ``VmHWM`` (the high-water mark of
    this process image alone) is read where it exists.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(side: str, n_bits: int) -> None:
    """Score one pair of ``n_bits`` and print peak RSS before and after, as JSON."""
    torch.set_num_threads(1)
    model = _model()
    generator = torch.Generator().manual_seed(2)
    if side == "plain":
        bits = random_operands(1, n_bits, 2, generator)
        before = _max_rss_mib()
        plain_wrong_rows(model, bits)
    else:
        source = RandomSource(1, n_bits, 2, generator)
        before = _max_rss_mib()
        stream_wrong_rows(model, source, n_bits)
    print(json.dumps({"before_mib": before, "peak_mib": _max_rss_mib()}))


def peak_memory(side: str, n_bits: int) -> dict[str, float]:
    """Run :func:`memory_child` in a fresh process; its peak RSS in MiB."""
    command = [sys.executable, __file__, "--memory-child", side, "--bits", str(n_bits)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"before_mib": float("nan"), "peak_mib": float("nan"), "error": tail}
    return json.loads(done.stdout)


def _cpu_name() -> str:
    """The processor's model name where Linux tells it, else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _line(label: str, plain: float, stream: float, unit: str, ratio: str) -> str:
    return f"{label:<34} {plain:>12,.0f} {stream:>12,.0f} {unit:<9} {ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6, help="timed runs per side")
    parser.add_argument("--bits", type=int, default=10**7, help="memory test width")
    parser.add_argument("--memory-child", choices=("plain", "stream"), help="internal")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.memory_child:
        memory_child(args.memory_child, args.bits)
        return

    cores = os.cpu_count()
    print(f"machine: {_cpu_name()}, {cores} cores; torch {torch.__version__}")
    print(f"{'':<34} {'plain':>12} {'streaming':>12} {'unit':<9} ratio")
    for rows, n_bits in ((100, 10**4), (1, 10**6)):
        speed = throughput(rows, n_bits, args.repeats)
        ratio = f"stream/plain {speed['stream'] / speed['plain']:.2f}"
        label = f"throughput, {rows} x {n_bits:.0e} bits"
        print(_line(label, speed["plain"], speed["stream"], "bits/s", ratio))
    plain, stream = peak_memory("plain", args.bits), peak_memory("stream", args.bits)
    ratio = f"plain/stream {plain['peak_mib'] / stream['peak_mib']:.1f}"
    label = f"peak RSS, one {args.bits:.0e}-bit pair"
    print(_line(label, plain["peak_mib"], stream["peak_mib"], "MiB", ratio))
    growth = (
        plain["peak_mib"] - plain["before_mib"],
        stream["peak_mib"] - stream["before_mib"],
    )
    print(_line("  of which the run itself", *growth, "MiB", ""))
    for side in (plain, stream):
        if "error" in side:
            print(f"  a memory child failed: {side['error']}")


if __name__ == "__main__":
    main()
