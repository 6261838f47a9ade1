"""Certify that a recurrent network adds correctly at every length, or refute it.

A network that adds correctly is, underneath, an automaton: after each step its
state must encode the sum bit just emitted and the carry. The certifier

1. runs the network on long random, carry-heavy and structured inputs and
   groups the visited states by the abstract state they should encode: the
   sum bit and carry (partition ``state``, 4 groups) or, finer, the step that
   led there, (a, b, carry in) (partition ``step``, 8 groups);
2. puts a parallelotope region around each group and grows the regions until
   every step maps them into each other (see :mod:`binadd.certify.regions`);
3. verifies with outward-rounded interval arithmetic, for every region and
   each input pair (a, b), that one step of the cell, float32 rounding
   included, maps the region into the region of the correct next state; that
   every region's read-out has the sign of its sum bit; and that the zero
   initial state steps into the right regions.

Induction on the number of steps then proves every output bit right at every
width, the final pad step (input (0, 0)) emitting the carry included. When a
check fails the verdict is ``not certified``, with the leaking transition, and
a search for operands on which the network is wrong (confirmed by running it).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from binadd.certify import automaton
from binadd.certify.cellmaps import CellMap
from binadd.certify.counterexample import search_counterexample
from binadd.certify.partitions import PAIRS, Partition, add_step
from binadd.certify.proof import Attempt, attempt, transitions
from binadd.certify.visits import Visits, collect_visits
from binadd.config import Config, check_seed
from binadd.errors import UsageError
from binadd.files import write_atomic
from binadd.layouts import Layout
from binadd.models import RecurrentAdder

SUPPORTED_CELLS = ("lstm", "gru", "rnn")


@dataclass(frozen=True)
class CertifyOptions:
    """How hard to look.

    Args:
        n_bits: width of the operands whose states are collected.
        sequences: random pairs collected (plus as many carry-heavy ones, and
            the structured cases).
        seed: seed of those pairs.
        max_depth: the finest partition tried is ``history-max_depth``.
        search_bits: longest width tried when searching for a counterexample.
        rounds: at most this many rounds of growing the regions.
        pieces: at most this many pieces a region is cut into per check.
    """

    n_bits: int = 500
    sequences: int = 32
    seed: int = 0
    max_depth: int = 3
    search_bits: int = 1 << 16
    rounds: int = 30
    pieces: int = 32

    def __post_init__(self) -> None:
        for name in ("n_bits", "sequences", "search_bits", "rounds", "pieces"):
            value = getattr(self, name)
            if value < 1:
                raise UsageError(f"{_flag(name)} must be at least 1, got {value}")
        if not 0 <= self.max_depth <= 4:
            raise UsageError(
                f"{_flag('max_depth')} must be between 0 and 4, got {self.max_depth}"
            )
        check_seed(self.seed, _flag("seed"))


# The fields that ``binadd certify`` sets from an option; errors name the option.
OPTION_FIELDS = ("n_bits", "sequences", "seed", "max_depth", "search_bits")


def _flag(name: str) -> str:
    """The option that sets field ``name``, e.g. ``--max-depth``; else the name."""
    return "--" + name.replace("_", "-") if name in OPTION_FIELDS else name


def check_supported(config: Config) -> None:
    """Refuse, in one line, what the certifier cannot reason about."""
    task, model = config.task, config.model
    if model.kind not in SUPPORTED_CELLS:
        raise UsageError(
            f"certify supports lstm, gru and rnn cells, not {model.kind} models"
        )
    if model.num_layers != 1 or model.bidirectional:
        raise UsageError(
            "certify supports one unidirectional recurrent layer "
            f"(this model has num_layers={model.num_layers}, "
            f"bidirectional={model.bidirectional})"
        )
    if (task.operands, task.bit_order, task.layout) != (2, "lsb", "parallel"):
        raise UsageError(
            "certify supports two operands in the parallel lsb layout, not "
            f"{task.operands} operands, {task.layout} {task.bit_order}"
        )


def transition_table(
    found: Attempt,
) -> dict[tuple[str, tuple[int, int]], tuple[str, int]]:
    """The extracted automaton as a Mealy machine: (state, pair) -> (next, bit).

    Its states are the regions and, for a window longer than one step, the
    words read from the start before the first region is reached.
    """
    partition, table = found.partition, {}
    for key, pair, target in transitions(partition, found.regions):
        bit = partition.meaning(target)[0]
        table[(partition.label(key), PAIRS[pair])] = (partition.label(target), bit)

    def name(word: tuple[int, ...]) -> str:
        if len(word) == partition.window:
            return partition.label(partition.key(0, word))
        return "start" + "".join(f":{p // 2}{p % 2}" for p in word)

    words: list[tuple[int, ...]] = [()]
    while words:
        word = words.pop()
        carry = 0
        for pair in word:
            carry = add_step(carry, pair)[1]
        for pair in range(4):
            longer = (*word, pair)
            table[(name(word), PAIRS[pair])] = (name(longer), add_step(carry, pair)[0])
            if len(longer) < partition.window:
                words.append(longer)
    return table


def describe_leak(leak: dict[str, Any]) -> str:
    """One line: which check failed and by how much."""
    if leak["kind"] == "readout":
        low, high = leak["logit"]
        return (
            f"region {leak['region']} must read out {leak['bit']} but its logit "
            f"spans [{low:.3g}, {high:.3g}]"
        )
    source = leak["from"]
    if leak["kind"] == "start":
        source = "the zero state after " + " ".join(leak["word"][:-1] or ["nothing"])
    return (
        f"{source} leaks under input ({leak['input'][0]},{leak['input'][1]}): its "
        f"image leaves region {leak['to']} by {-leak['margin']:.3g} along frame "
        f"axis {leak['worst_axis']}"
    )


def certify_model(
    model: nn.Module, config: Config, options: CertifyOptions
) -> tuple[dict[str, Any], Visits, Attempt]:
    """Prove or refute; return the certificate, the visits and the best attempt."""
    check_supported(config)
    if not isinstance(model, RecurrentAdder):
        raise UsageError(
            f"certify supports recurrent models, not {type(model).__name__}"
        )
    started = time.perf_counter()
    model = model.cpu().float().eval()
    cell = CellMap.from_model(model.rnn, model.head, config.model.kind)
    visits = collect_visits(model, options.n_bits, options.sequences, options.seed)

    # The coarsest partition first; a finer one only when it does not close.
    tried: list[Attempt] = []
    depths = range(options.max_depth + 1) if visits.wrong_rows.size == 0 else [0]
    for depth in depths:
        tried.append(
            attempt(
                cell, visits, Partition(depth), True, options.rounds, options.pieces
            )
        )
        if tried[-1].passed:
            break
    # The finest partition tried is the one reported, passed or not.
    best = tried[-1]

    counterexample = None
    if not best.passed:
        layout = Layout(2, "lsb", "parallel")
        counterexample = search_counterexample(model, layout, visits, options)
    certificate = build_certificate(cell, visits, best, tried, counterexample)
    certificate["seconds"] = round(time.perf_counter() - started, 3)
    return certificate, visits, best


def build_certificate(
    cell: CellMap,
    visits: Visits,
    best: Attempt,
    tried: list[Attempt],
    counterexample: dict[str, Any] | None,
) -> dict[str, Any]:
    """The JSON-ready certificate: verdict, reason, regions, table, checks."""
    partition = best.partition
    keys = partition.keys(visits)
    if best.passed:
        reason = (
            f"all {len(best.checks)} checks hold: from the zero state and from "
            "every region, each input pair leads into the right region, and "
            "every region reads out the right bit"
        )
    elif visits.wrong_rows.size:
        reason = "the network adds wrong on the collected inputs"
    else:
        # A leaking step says more than the read-out of a region grown too far.
        leaks = sorted(best.leaks(), key=lambda leak: leak["kind"] == "readout")
        reason = describe_leak(leaks[0])
    table = transition_table(best)
    regions = []
    for key, region in best.regions.items():
        bit, carry = partition.meaning(key)
        regions.append(
            {"label": partition.label(key), "sum_bit": bit, "carry": carry}
            | {"visited": int((keys == key).sum())}
            | region.to_dict()
        )
    return {
        "format": "binadd-certificate-1",
        "verdict": "certified" if best.passed else "not certified",
        "reason": reason,
        "cell": cell.kind,
        "hidden_size": cell.hidden_size,
        "partition": partition.name,
        "attempts": [
            {"partition": a.partition.name, "failed_checks": len(a.leaks())}
            for a in tried
        ],
        "visited": {"n_bits": visits.n_bits, "sequences": visits.sequences}
        | {"states": int(visits.states.shape[0] * visits.states.shape[1])},
        "float32_error_bound": max(
            cell.float32_error(region.hull()) for region in best.regions.values()
        ),
        "regions": regions,
        "transition_table": [
            {"from": state, "input": f"{a}{b}", "to": nxt, "emits": bit}
            for (state, (a, b)), (nxt, bit) in table.items()
        ],
        "automaton": automaton.summary(table, "start") if best.passed else None,
        "checks": {
            "total": len(best.checks),
            "passed": sum(check["ok"] for check in best.checks),
            "list": best.checks,
        },
        "counterexample": counterexample,
    }


def write_certificate(
    run_dir: Path, certificate: dict[str, Any], visits: Visits, best: Attempt
) -> tuple[Path, Path]:
    """Write ``certificate.json`` and ``states.png`` into the run directory."""
    from binadd.certify.plot import plot_states

    json_path = run_dir / "certificate.json"
    write_atomic(json_path, json.dumps(certificate, indent=1) + "\n")
    png_path = plot_states(run_dir / "states.png", visits, best, certificate["verdict"])
    return json_path, png_path
