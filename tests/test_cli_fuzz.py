"""Fuzzing the command line: random options and config files never end in a
traceback, only in exit code 0, 1 or 2 with a one-line error.

Budgets are forced tiny (the forced flags come last and win), and generated
sizes are either small or far too large to pass validation, so an accidental
training run takes a fraction of a second.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from binadd.cli import main
from binadd.configure import FLAT_KEYS, SECTIONS

# BINADD_FUZZ_EXAMPLES=1000 fuzzes deeper; the default keeps the suite fast.
FUZZ = settings(
    max_examples=int(os.environ.get("BINADD_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FORCED = [
    "--epochs",
    "1",
    "--steps-per-epoch",
    "1",
    "--test-batches",
    "1",
    "--batch-size",
    "2",
    "--eval-lengths",
    "1",
    "--eval-samples",
    "1",
    "--threads",
    "1",
]

# Numbers: small ones that pass, or ones far past every limit; never a width
# that is valid but slow.
small_ints = st.integers(min_value=-3, max_value=6)
huge_ints = st.integers(min_value=2**40, max_value=2**80)
numbers = st.one_of(
    small_ints,
    huge_ints,
    st.sampled_from([0.5, 1.5, 1e-3, 1e300, -1.0, math.nan, math.inf]),
)
junk = st.text(max_size=8)
number_text = st.one_of(numbers.map(str), junk)
length_text = st.one_of(
    st.sampled_from(["1", "1-3", "2,4", "3-1", "", ",", "1e3", "0", "1e99", "-2"]),
    junk,
)
TRAIN_FLAGS = {
    "--n-bits": number_text,
    "--train-lengths": length_text,
    "--model": st.one_of(st.sampled_from(["lstm", "gru", "rnn"]), junk),
    "--hidden-size": number_text,
    "--num-layers": number_text,
    "--loss": st.one_of(st.sampled_from(["bce", "mse"]), junk),
    "--lr": number_text,
    "--seed": number_text,
    "--test-seed": number_text,
    "--eval-seed": number_text,
    "--device": st.one_of(st.sampled_from(["cpu", "auto"]), junk),
    "--threads": st.one_of(st.sampled_from(["1", "0", "-1", str(2**70)]), junk),
    "--preset": st.one_of(st.just("notebook"), junk),
}
SWITCHES = ["--force", "--debug-not-an-option", "--json"]


@st.composite
def option_lists(draw, flags: dict[str, st.SearchStrategy[str]]) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(sorted(flags)), max_size=5, unique=True))
    argv: list[str] = []
    for flag in chosen:
        argv += [flag, draw(flags[flag])]
    if draw(st.booleans()):
        argv.insert(draw(st.integers(0, len(argv))), draw(st.sampled_from(SWITCHES)))
    if draw(st.integers(0, 9)) == 0:
        argv.append(draw(junk))
    return argv


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)


toml_values = st.one_of(
    numbers.filter(lambda v: not isinstance(v, int) or abs(v) < 2**63),
    st.booleans(),
    junk,
    st.sampled_from(["lstm", "gru", "mse", "bce", "cpu", "1-3", "msb"]),
    st.lists(small_ints, max_size=3),
)
keys = st.one_of(
    st.sampled_from(sorted(FLAT_KEYS)), st.from_regex(r"[a-z_]{1,10}", fullmatch=True)
)


@st.composite
def config_texts(draw) -> str:
    """A TOML file: flat keys, sections, or plain junk."""
    shape = draw(st.sampled_from(["flat", "sections", "junk"]))
    if shape == "junk":
        return draw(st.text(max_size=40))
    lines = [
        f"{key} = {toml_value(draw(toml_values))}"
        for key in draw(st.lists(keys, max_size=4, unique=True))
    ]
    if shape == "sections":
        section = draw(st.one_of(st.sampled_from(sorted(SECTIONS)), keys))
        lines.insert(0, f"[{section}]")
    return "\n".join(lines) + "\n"


def run_main(argv: list[str]) -> tuple[int, str]:
    """Run the CLI in-process; return its exit code and what it wrote to stderr."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as stop:  # --help or --version printed and stopped.
            code = stop.code if isinstance(stop.code, int) else 2
    torch.set_num_threads(1)
    return code, err.getvalue()


def check(code: int, err: str) -> None:
    event(f"exit code {code}")
    assert "Traceback" not in err
    assert code in (0, 1, 2)
    if code:
        lines = err.strip().splitlines()
        assert lines and lines[-1].startswith("binadd: error: "), err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fuzz") / "run"
    assert main(["train", *FORCED, "--out", str(out)]) == 0
    return out


@FUZZ
@given(option_lists(TRAIN_FLAGS), st.none() | config_texts())
def test_train_options_and_config_files(argv, config_text) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="binadd-fuzz-"))
    try:
        if config_text is not None:
            (scratch / "config.toml").write_text(config_text, encoding="utf-8")
            argv = [*argv, "--config", str(scratch / "config.toml")]
        code, err = run_main(["train", *argv, *FORCED, "--out", str(scratch / "run")])
        check(code, err)
    finally:
        shutil.rmtree(scratch)


operands = st.one_of(
    st.integers(0, 2**300).map(str),
    st.integers(0, 2**300).map(hex),
    st.integers(0, 2**300).map(bin),
    junk,
)
RUN_FLAGS = {
    "--lengths": length_text,
    "--samples": st.one_of(st.sampled_from(["1", "3", "0", "-1"]), junk),
    "--seed": number_text,
    "--device": st.one_of(st.just("cpu"), junk),
}


@FUZZ
@given(
    st.sampled_from(["evaluate", "plot", "add", "train --resume", "nonsense"]),
    option_lists(RUN_FLAGS),
    operands,
    operands,
    st.booleans(),
)
def test_commands_on_a_run(trained, command, argv, a, b, real_run) -> None:
    run = str(trained) if real_run else "no/such/run"
    words = command.split()
    if command == "add":
        words += [run, a, b]
    else:
        words.append(run)
    code, err = run_main([*words, *argv])
    check(code, err)
