"""The ``sweep`` and ``report`` commands: parse their options, run, print.

Kept apart from :mod:`binadd.cli` so that the main parser gains only a call to
:func:`add_parsers` and two entries in its command table.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("binadd")


def add_parsers(commands: Any, add_common: Callable[[Any], None]) -> None:
    """Add ``sweep`` and ``report`` to the CLI's subcommands."""
    sweep = commands.add_parser(
        "sweep", help="train many (config, seed) trials and record them"
    )
    sweep.add_argument("sweep_file", type=Path, help="sweep TOML file")
    sweep.add_argument(
        "--out", type=Path, help="sweep directory (default runs/sweep-NAME)"
    )
    sweep.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="trials at once, one torch thread each (default: the CPU count)",
    )
    sweep.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="local worker processes, or Ray tasks (default local)",
    )
    sweep.add_argument(
        "--address", help="Ray cluster to join (default: start a local Ray)"
    )
    sweep.add_argument(
        "--tensorboard",
        action="store_true",
        help="also write TensorBoard logs under SWEEP_DIR/tensorboard",
    )
    add_common(sweep)

    report = commands.add_parser(
        "report", help="statistics over seeds of a sweep: table, CSV, plots, HTML"
    )
    report.add_argument("sweep_dir", type=Path, help="sweep directory")
    report.add_argument(
        "--out", type=Path, help="where the report goes (default SWEEP_DIR/report)"
    )
    add_common(report)


def run_sweep_command(args: argparse.Namespace) -> int:
    from binadd.sweep import run_sweep
    from binadd.sweepfile import load_sweep

    sweep = load_sweep(args.sweep_file)
    if args.device is not None:
        sweep = dataclasses.replace(sweep, base={**sweep.base, "device": args.device})
    out = args.out or Path("runs") / f"sweep-{sweep.name}"
    counts = run_sweep(
        sweep,
        out,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        tensorboard=args.tensorboard,
    )
    _report(out, None)
    print(
        f"sweep {sweep.name}: {counts['done']} done, {counts['failed']} failed"
        f" of {sum(counts.values())} trials; database {out / 'sweep.db'}"
    )
    return 1 if counts["failed"] else 0


def run_report_command(args: argparse.Namespace) -> int:
    return _report(args.sweep_dir, args.out)


def _report(sweep_dir: Path, out: Path | None) -> int:
    from binadd.report import build_report, format_summary, write_tables
    from binadd.report_html import write_figures_and_html

    report = build_report(sweep_dir)
    out = out or sweep_dir / "report"
    paths = write_tables(report, out) + write_figures_and_html(report, out)
    print("\n".join(format_summary(report.summary)))
    for path in paths:
        print(path)
    return 0
