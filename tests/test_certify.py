"""Tests of the certifier: exact networks certify, wrong ones never do."""

from __future__ import annotations

import json

import pytest
import torch

from binadd.certify.certificate import CertifyOptions, certify_model, check_supported
from binadd.checkpoint import Checkpoint
from binadd.cli import main
from binadd.commands import NOT_CERTIFIED
from binadd.config import Config, ModelConfig, TaskConfig
from binadd.errors import UsageError
from binadd.evaluate import predict_sums
from binadd.layouts import Layout
from binadd.rundir import RunDir
from binadd.task import add_bits, int_to_bits
from certify_models import drifting_adder, exact_adder

FAST = CertifyOptions(n_bits=100, sequences=16, max_depth=1, search_bits=4096)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_exact_adder_certifies(kind: str) -> None:
    model, config = exact_adder(kind)
    certificate, _, _ = certify_model(model, config, FAST)
    assert certificate["verdict"] == "certified"
    assert certificate["checks"]["passed"] == certificate["checks"]["total"]
    assert certificate["counterexample"] is None
    # The extracted automaton minimizes to the two-state serial adder.
    assert certificate["automaton"]["minimal_states"] == 2
    assert certificate["automaton"]["equivalent_to_serial_adder"]


def _confirm_wrong(model: torch.nn.Module, found: dict) -> None:
    """Run the model on the reported operands: its sum must be wrong."""
    n_bits = found["n_bits"]
    a, b = int(found["a"], 16), int(found["b"], 16)
    operands = torch.stack([int_to_bits(a, n_bits), int_to_bits(b, n_bits)])
    predicted = predict_sums(model, Layout(), operands[None], torch.device("cpu"))[0]
    truth = add_bits(operands[None])[0]
    assert not torch.equal(predicted, truth)
    assert int(found["true_sum"], 16) == a + b
    first = int((predicted != truth).nonzero()[0, 0])
    assert first == found["first_wrong_bit"]


def test_drift_beyond_collected_width_is_refuted_by_the_proof() -> None:
    # Correct on every collected input (chains shorter than ~150 bits) ...
    model, config = drifting_adder(1e-3)
    certificate, visits, _ = certify_model(model, config, FAST)
    assert visits.wrong_rows.size == 0
    # ... yet the regions cannot close, and the search finds a long chain.
    assert certificate["verdict"] == "not certified"
    assert certificate["checks"]["passed"] < certificate["checks"]["total"]
    found = certificate["counterexample"]
    assert found is not None and found["n_bits"] > FAST.n_bits
    assert "repeated" in found["found_by"]
    _confirm_wrong(model, found)


def test_fast_drift_is_caught_on_collected_inputs() -> None:
    model, config = drifting_adder(1e-2)
    certificate, _, _ = certify_model(model, config, FAST)
    assert certificate["verdict"] == "not certified"
    found = certificate["counterexample"]
    assert found["found_by"] == "collected inputs"
    _confirm_wrong(model, found)


def test_a_flipped_read_out_never_certifies() -> None:
    model, config = exact_adder("lstm")
    with torch.no_grad():
        model.head.bias.fill_(4.0)  # now the zero-sum state reads out 1
    certificate, _, _ = certify_model(model, config, FAST)
    assert certificate["verdict"] == "not certified"
    _confirm_wrong(model, certificate["counterexample"])


@pytest.mark.parametrize(
    "config",
    [
        Config(model=ModelConfig(num_layers=2)),
        Config(model=ModelConfig(bidirectional=True)),
        Config(task=TaskConfig(operands=3)),
        Config(task=TaskConfig(bit_order="msb")),
    ],
)
def test_unsupported_models_are_refused(config: Config) -> None:
    with pytest.raises(UsageError, match="certify supports"):
        check_supported(config)


def _run_dir(tmp_path, model, config) -> RunDir:
    run = RunDir.create(tmp_path / "run")
    run.write_config(config)
    run.save_checkpoint(Checkpoint(config=config, model_state=model.state_dict()))
    return run


def test_cli_certifies_and_writes_files(tmp_path, capsys) -> None:
    run = _run_dir(tmp_path, *exact_adder("gru"))
    code = main(["certify", str(run.path), "--n-bits", "60", "--max-depth", "1"])
    assert code == 0
    assert "verdict: certified" in capsys.readouterr().out
    certificate = json.loads((run.path / "certificate.json").read_text())
    assert certificate["verdict"] == "certified"
    assert len(certificate["regions"]) == 4
    assert (run.path / "states.png").stat().st_size > 1000


def test_cli_not_certified_exit_code(tmp_path, capsys) -> None:
    run = _run_dir(tmp_path, *drifting_adder(1e-2))
    code = main(["certify", str(run.path), "--n-bits", "60", "--json"])
    assert code == NOT_CERTIFIED
    printed = json.loads(capsys.readouterr().out)
    assert printed["verdict"] == "not certified"
    assert printed["counterexample"]["first_wrong_bit"] >= 0


def test_cli_bad_options_are_one_line_usage_errors(tmp_path, capsys) -> None:
    run = _run_dir(tmp_path, *exact_adder("rnn"))
    assert main(["certify", str(run.path), "--n-bits", "0"]) == 2
    assert main(["certify", str(tmp_path / "missing")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("binadd: error:") for line in errors)


@pytest.mark.slow
def test_a_trained_rnn_certifies(tmp_path) -> None:
    # This recipe and seed reach exact sums after two epochs; thirty epochs
    # saturate the units enough for the history-3 regions to close, so the
    # run neither clips gradients nor stops once solved.
    out = tmp_path / "trained"
    options = ["--preset", "notebook", "--model", "rnn", "--seed", "2"]
    options += ["--epochs", "30", "--lr", "0.01"]
    options += ["--hidden-size", "8", "--eval-lengths", "10", "--eval-samples", "50"]
    assert main(["train", "--out", str(out), *options]) == 0
    code = main(["certify", str(out), "--n-bits", "200", "--sequences", "16"])
    assert code == 0
    certificate = json.loads((out / "certificate.json").read_text())
    assert certificate["verdict"] == "certified"
    assert certificate["automaton"]["minimal_states"] == 2
    assert certificate["automaton"]["equivalent_to_serial_adder"]


def test_a_transformer_is_refused() -> None:
    with pytest.raises(UsageError, match="not transformer models"):
        check_supported(Config(model=ModelConfig(kind="transformer")))


@pytest.mark.parametrize(
    ("field", "value", "flag"),
    [
        ("max_depth", 9, "--max-depth"),
        ("max_depth", -1, "--max-depth"),
        ("n_bits", 0, "--n-bits"),
        ("search_bits", 0, "--search-bits"),
        ("sequences", 0, "--sequences"),
        ("seed", -1, "--seed"),
        ("seed", 2**64, "--seed"),
    ],
)
def test_bad_options_name_the_flag(field, value, flag) -> None:
    with pytest.raises(UsageError) as error:
        CertifyOptions(**{field: value})
    message = str(error.value)
    assert message.split()[0] in (flag, f"{flag}:") and str(value) in message


def test_cli_bad_max_depth_names_the_option(tmp_path, capsys) -> None:
    run = _run_dir(tmp_path, *exact_adder("rnn"))
    assert main(["certify", str(run.path), "--max-depth", "7"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "binadd: error: --max-depth must be between 0 and 4, got 7"
