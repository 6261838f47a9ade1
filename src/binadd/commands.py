"""The commands behind the CLI: each takes the parsed options, runs, prints.

Each ``run_*`` function carries out one subcommand of :mod:`binadd.cli` and
returns its exit code; errors propagate as :class:`~binadd.errors.BinaddError`
for the CLI to report. Each command imports the pipeline's modules it uses
itself, so that a command loads only those.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from binadd.config import Config, check_seed
from binadd.configure import build_config
from binadd.errors import UsageError
from binadd.options import TRAIN_OPTIONS

log = logging.getLogger("binadd")


def _device(args: argparse.Namespace, config: Config) -> torch.device:
    from binadd.train import resolve_device

    return resolve_device(args.device or config.device)


def run_train(args: argparse.Namespace) -> int:
    from binadd.evaluate import evaluate_into, format_verdicts, verdicts
    from binadd.horizon import format_summary, write_summary
    from binadd.plots import plot_curves, plot_lengths
    from binadd.resume import resume
    from binadd.rundir import RunDir
    from binadd.train import Trainer, fit

    if args.resume is not None:
        _check_resume_options(args)
        run, trainer = resume(args.resume, args.device)
        config, device = trainer.config, trainer.device
    else:
        options = {key: getattr(args, key) for _, key, _, _ in TRAIN_OPTIONS}
        options = {key: value for key, value in options.items() if value is not None}
        if args.device is not None:
            options["device"] = args.device
        config = build_config(args.preset, args.config, options)
        device = _device(args, config)
        out = args.out or RunDir.default_path("runs", config)
        run = RunDir.create(out, force=args.force)
        run.write_config(config)
        log.info("run directory: %s (device %s)", run.path, device)
        trainer = Trainer(config, device)

    fit(trainer, run)
    records = evaluate_into(
        run, trainer.model, trainer.layout, config.eval, device, sys.stderr.isatty()
    )
    summary = write_summary(run, max(config.task.widths))
    plot_curves(run)
    plot_lengths(run, config)
    print("\n".join(format_verdicts(verdicts(records)) + format_summary(summary)))
    print(f"run directory: {run.path}")
    return 0


def _check_resume_options(args: argparse.Namespace) -> None:
    """--resume continues with the run's saved config: nothing may change it."""
    flags = [(flag, getattr(args, key)) for flag, key, _, _ in TRAIN_OPTIONS]
    flags += [("--config", args.config), ("--preset", args.preset)]
    flags += [("--out", args.out), ("--force", args.force or None)]
    given = [flag for flag, value in flags if value is not None]
    if given:
        raise UsageError(
            f"--resume continues a run with its saved config; drop {', '.join(given)}"
        )


def run_evaluate(args: argparse.Namespace) -> int:
    from binadd.evaluate import (
        DEFAULT_BIT_BUDGET,
        evaluate,
        format_verdicts,
        restore_model,
        verdicts,
    )
    from binadd.horizon import format_summary, write_summary
    from binadd.layouts import Layout
    from binadd.plots import plot_lengths
    from binadd.rundir import RunDir
    from binadd.stream import DEFAULT_CHUNK_SIZE

    if args.seed is not None:
        check_seed(args.seed, "--seed")
    run = RunDir.open(args.run)
    checkpoint = run.load_checkpoint()
    config = checkpoint.config
    device = _device(args, config)
    model = restore_model(checkpoint, device)
    lengths = args.lengths or config.eval.eval_lengths
    samples = args.samples if args.samples is not None else config.eval.eval_samples
    seed = args.seed if args.seed is not None else config.eval.eval_seed
    if samples < 1:
        raise UsageError("--samples must be at least 1")
    layout = Layout.from_config(config.task)
    bit_budget = args.bit_budget or DEFAULT_BIT_BUDGET
    chunk_size = args.chunk_size or DEFAULT_CHUNK_SIZE
    records = evaluate(
        model,
        layout,
        lengths,
        samples,
        seed,
        device,
        progress=sys.stderr.isatty() and not args.json,
        bit_budget=bit_budget,
        chunk_size=chunk_size,
    )
    run.write_lengths(
        records,
        {
            "seed": seed,
            "samples": samples,
            "bit_budget": bit_budget,
            "chunk_size": chunk_size,
        },
    )
    summary = write_summary(run, max(config.task.widths))
    plot_lengths(run, config)
    rows = verdicts(records)
    if args.json:
        result = {"run": str(run.path), "widths": rows, "records": records}
        print(json.dumps({**result, "summary": summary}))
    else:
        print("\n".join(format_verdicts(rows) + format_summary(summary)))
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from binadd.plots import plot_curves, plot_lengths
    from binadd.rundir import RunDir

    run = RunDir.open(args.run)
    config = run.load_checkpoint().config
    drawn = []
    if run.metrics_path.is_file():
        drawn.append(plot_curves(run))
    if run.lengths_path.is_file():
        drawn.append(plot_lengths(run, config))
    if not drawn:
        raise UsageError(f"{run.path} has no metrics.csv or lengths.csv to plot")
    for path in drawn:
        print(path)
    return 0


def _add_result(a: int, b: int, predicted: torch.Tensor, output: str) -> dict[str, Any]:
    """What ``binadd add`` reports: both sums in base ``output``, where they part."""
    from binadd.operands import format_int
    from binadd.task import bits_to_int, int_to_bits

    truth = a + b
    wrong_bits = (predicted != int_to_bits(truth, predicted.shape[0])).nonzero()
    first_wrong = int(wrong_bits[0, 0]) if len(wrong_bits) else None
    values = {"a": a, "b": b, "network_sum": bits_to_int(predicted), "true_sum": truth}
    result: dict[str, Any] = {
        name: format_int(value, output) for name, value in values.items()
    }
    result.update(
        output=output,
        n_bits=max(a.bit_length(), b.bit_length(), 1),
        agree=first_wrong is None,
        first_wrong_bit=first_wrong,
    )
    return result


def run_add(args: argparse.Namespace) -> int:
    from binadd.evaluate import predict_sums, restore_model
    from binadd.layouts import Layout
    from binadd.operands import read_operands
    from binadd.rundir import RunDir
    from binadd.task import int_to_bits

    a, b = read_operands(args.a, args.b)
    run = RunDir.open(args.run)
    checkpoint = run.load_checkpoint()
    device = _device(args, checkpoint.config)
    model = restore_model(checkpoint, device)
    layout = Layout.from_config(checkpoint.config.task)
    if layout.operands != 2:
        raise UsageError(f"this network adds {layout.operands} operands, not 2")

    # The network reads the operands in chunks; its sum comes back as bits.
    n_bits = max(a.bit_length(), b.bit_length(), 1)
    operand_bits = torch.stack([int_to_bits(a, n_bits), int_to_bits(b, n_bits)])
    predicted = predict_sums(model, layout, operand_bits.unsqueeze(0), device)[0]
    result = _add_result(a, b, predicted, args.output)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"network sum: {result['network_sum']}")
    print(f"true sum:    {result['true_sum']}")
    first = result["first_wrong_bit"]
    where = "" if first is None else f" (first wrong bit: {first})"
    print(f"agree:       {'yes' if first is None else 'no'}{where}")
    return 0


# Exit code of `binadd certify` when the proof does not go through.
NOT_CERTIFIED = 3


def run_certify(args: argparse.Namespace) -> int:
    from binadd.certify.certificate import (
        CertifyOptions,
        certify_model,
        write_certificate,
    )
    from binadd.evaluate import restore_model
    from binadd.rundir import RunDir

    options = CertifyOptions(
        args.n_bits, args.sequences, args.seed, args.max_depth, args.search_bits
    )
    run = RunDir.open(args.run)
    checkpoint = run.load_checkpoint()
    model = restore_model(checkpoint, torch.device("cpu"))
    certificate, visits, best = certify_model(model, checkpoint.config, options)
    paths = write_certificate(run.path, certificate, visits, best)
    found = certificate["counterexample"]
    if args.json:
        keep = ("verdict", "reason", "partition", "seconds", "counterexample")
        print(json.dumps({key: certificate[key] for key in keep}))
    else:
        print(f"verdict: {certificate['verdict']} ({certificate['reason']})")
        if found:
            print(
                f"counterexample: {found['a']} + {found['b']} at {found['n_bits']} "
                f"bits, first wrong bit {found['first_wrong_bit']}"
                f" ({found['found_by']})"
            )
        print(f"written: {paths[0]}, {paths[1]}")
    return 0 if certificate["verdict"] == "certified" else NOT_CERTIFIED


def run_sweep(args: argparse.Namespace) -> int:
    from binadd.sweeps import runner
    from binadd.sweeps.spec import load_sweep

    sweep = load_sweep(args.sweep_file)
    if args.device is not None:
        sweep = dataclasses.replace(sweep, base={**sweep.base, "device": args.device})
    out = args.out or Path("runs") / f"sweep-{sweep.name}"
    counts = runner.run_sweep(
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


def run_report(args: argparse.Namespace) -> int:
    return _report(args.sweep_dir, args.out)


def _report(sweep_dir: Path, out: Path | None) -> int:
    from binadd.sweeps.report import build_report, format_summary, write_tables
    from binadd.sweeps.report_html import write_figures_and_html

    report = build_report(sweep_dir)
    out = out or sweep_dir / "report"
    paths = write_tables(report, out) + write_figures_and_html(report, out)
    print("\n".join(format_summary(report.summary)))
    for path in paths:
        print(path)
    return 0
