"""Operands of any size: exact fast conversions, parsing, files and stdin."""

from __future__ import annotations

import decimal
import io
import random
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binadd.errors import UsageError
from binadd.operands import (
    decimal_to_int,
    format_int,
    int_to_decimal,
    parse_operand,
    read_operands,
)


def _reference_digits(value: int) -> str:
    """Decimal digits through the decimal module, free of the 4300-digit limit."""
    context = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX)
    return f"{context.create_decimal(value):f}"


@given(st.integers(min_value=0, max_value=2**20000))
def test_decimal_conversions_round_trip(value: int) -> None:
    digits = int_to_decimal(value)
    assert decimal_to_int(digits) == value
    if len(digits) < 4000:
        assert digits == str(value)


@pytest.mark.parametrize("n_bits", [6001, 12_289, 100_000, 10**6])
def test_decimal_conversions_are_exact_at_scale(n_bits: int) -> None:
    value = random.Random(n_bits).getrandbits(n_bits) | (1 << (n_bits - 1))
    digits = int_to_decimal(value)
    if n_bits <= 100_000:
        assert digits == _reference_digits(value)
    assert decimal_to_int(digits) == value
    assert decimal_to_int("000" + digits) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("12_345", 12345),
        ("  0b1011\n", 11),
        ("0B1_0", 2),
        ("0xfF", 255),
        ("0X10", 16),
        ("123\n456\n", 123456),
        ("0x ab cd", 0xABCD),
    ],
)
def test_operands_in_every_base(text: str, value: int) -> None:
    assert parse_operand(text, "A") == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "operand A is empty"),
        ("  \n", "operand A is empty"),
        ("0x", "no digits after its prefix"),
        ("0b_", "no digits after its prefix"),
        ("-5", "negative"),
        ("12a", "unexpected 'a' at digit 3"),
        ("0b102", "unexpected '2'"),
        ("0x1g", "unexpected 'g'"),
        ("+7", "unexpected '+'"),
        ("1.5", "unexpected '.'"),
    ],
)
def test_malformed_operands_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)) as caught:
        parse_operand(text, "A")
    assert "\n" not in str(caught.value)
    assert "operand A" in str(caught.value)


def test_operands_from_files_and_stdin(tmp_path: Path) -> None:
    number = tmp_path / "n.txt"
    number.write_text("0x_ff\n00\n")
    assert read_operands(f"@{number}", "-", io.StringIO(" 7\n")) == (0xFF00, 7)
    assert read_operands("-", "3", io.StringIO("0b11")) == (3, 3)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ("-", "-", "only one operand"),
        ("@", "1", "operand A: '@' needs a file name"),
        ("1", "@/no/such/file", "operand B: no file"),
    ],
)
def test_bad_operand_sources(a: str, b: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        read_operands(a, b, io.StringIO(""))


def test_bytes_that_are_not_text(tmp_path: Path) -> None:
    binary = tmp_path / "n.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match="operand B: cannot read"):
        read_operands("1", f"@{binary}")


def test_sums_in_every_output_base() -> None:
    assert format_int(10, "dec") == "10"
    assert format_int(10, "bin") == "0b1010"
    assert format_int(10, "hex") == "0xa"
    assert format_int(0, "bin") == "0b0"
