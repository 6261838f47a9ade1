"""Operands of any size for ``binadd add``: reading them and writing sums.

An operand is a non-negative integer written in decimal, ``0b`` binary or
``0x`` hex, given on the command line, in a file (``@FILE``) or on standard
input (``-``). Whitespace anywhere (long numbers wrapped over lines) and
underscores are ignored.

Binary and hex convert in linear time. Decimal is the hard case: CPython 3.11
converts between ``int`` and decimal text in quadratic time and refuses more
than 4300 digits unless told otherwise, and 10**6 bits is 301030 digits. This
module converts by divide and conquer instead, without touching the global
digit limit: text to ``int`` splits the digits in halves and joins them with a
cached power of ten (Karatsuba multiplication), ``int`` to text splits the
bits in halves and joins them in the ``decimal`` module (whose large
multiplication is a number-theoretic transform), whose exact integers print in
linear time. Pieces below ``BASE_DIGITS`` digits use the built-in conversions.
"""

from __future__ import annotations

import decimal
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import TextIO

from binadd.errors import UsageError

PREFIXES = {"0b": 2, "0x": 16}
DIGITS = {2: "01", 10: "0-9", 16: "0-9a-fA-F"}
# Pieces this small go through int() and str() directly (below CPython's limit).
BASE_DIGITS = 2048
BASE_BITS = 6000
_WHITESPACE = re.compile(r"[\s_]+")


@lru_cache(maxsize=64)
def _power_of_ten(exponent: int) -> int:
    return 10**exponent


def decimal_to_int(digits: str) -> int:
    """The integer of a string of decimal digits, in sub-quadratic time."""
    if len(digits) <= BASE_DIGITS:
        return int(digits)
    # Split at a power-of-two multiple of BASE_DIGITS so the powers repeat.
    low_digits = BASE_DIGITS
    while 2 * low_digits < len(digits):
        low_digits *= 2
    high, low = digits[:-low_digits], digits[-low_digits:]
    return decimal_to_int(high) * _power_of_ten(low_digits) + decimal_to_int(low)


def _context() -> decimal.Context:
    """A context that keeps every digit of an integer exact."""
    return decimal.Context(
        prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
    )


def int_to_decimal(value: int) -> str:
    """Decimal digits of a non-negative integer, in sub-quadratic time."""
    if value.bit_length() <= BASE_BITS:
        return str(value)
    context = _context()
    powers: dict[int, decimal.Decimal] = {}

    def convert(number: int) -> decimal.Decimal:
        if number.bit_length() <= BASE_BITS:
            return decimal.Decimal(str(number))
        shift = BASE_BITS
        while 2 * shift < number.bit_length():
            shift *= 2
        if shift not in powers:
            powers[shift] = context.power(decimal.Decimal(2), shift)
        high = convert(number >> shift)
        low = convert(number & ((1 << shift) - 1))
        return context.add(context.multiply(high, powers[shift]), low)

    return f"{convert(value):f}"


def format_int(value: int, output: str) -> str:
    """``value`` in base ``dec``, ``bin`` (0b...) or ``hex`` (0x...)."""
    if output == "dec":
        return int_to_decimal(value)
    return f"0b{value:b}" if output == "bin" else f"0x{value:x}"


def parse_operand(text: str, name: str) -> int:
    """Read a non-negative integer in decimal, 0b binary or 0x hex.

    Args:
        text: the number; whitespace and underscores anywhere are ignored.
        name: the argument it came from, named in errors.

    Raises:
        UsageError: one line naming the argument, if ``text`` is not a number.
    """
    body = _WHITESPACE.sub("", text)
    base = PREFIXES.get(body[:2].lower(), 10)
    digits = body[2:] if base != 10 else body
    if not digits:
        what = "has no digits after its prefix" if body else "is empty"
        raise UsageError(f"operand {name} {what}")
    stray = re.search(f"[^{DIGITS[base]}]", digits)
    if stray:
        reason = (
            "negative numbers are not supported"
            if body[0] == "-"
            else (f"unexpected {stray.group()!r} at digit {stray.start() + 1}")
        )
        raise UsageError(
            f"operand {name} is not a non-negative number in decimal, 0b binary "
            f"or 0x hex: {reason}"
        )
    return decimal_to_int(digits) if base == 10 else int(digits, base)


def _read_text(source: str, name: str, stdin: TextIO) -> str:
    """The text of an operand argument: itself, a file (@FILE) or stdin (-)."""
    if source == "-":
        return stdin.read()
    if not source.startswith("@"):
        return source
    path = Path(source[1:])
    if not source[1:]:
        raise UsageError(f"operand {name}: '@' needs a file name")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"operand {name}: no file {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not UTF-8 text"
        raise UsageError(f"operand {name}: cannot read {path}: {reason}") from None


def read_operands(a: str, b: str, stdin: TextIO | None = None) -> tuple[int, int]:
    """Read the two operands of ``binadd add``; at most one may be ``-``."""
    if a == b == "-":
        raise UsageError("only one operand can be read from standard input (-)")
    stream = sys.stdin if stdin is None else stdin
    return (
        parse_operand(_read_text(a, "A", stream), "A"),
        parse_operand(_read_text(b, "B", stream), "B"),
    )
