"""Binary addition as a sequence task: exact bits, random operands, carry cases.

Inside binadd every number is a little-endian bit vector: index 0 holds the least
significant bit. Operands of a batch form a ``uint8`` tensor of shape
``(batch, operands, n_bits)``; their sum has ``n_bits + extra_bits(operands)`` bits
(one extra bit for two operands, the carry out).

This module knows nothing of models. It converts between Python integers and bit
tensors exactly, at any width (no floats and no fixed-width integers are involved),
draws random operands bit by bit, computes sums with a vectorized carry-lookahead
scan, and builds the structured carry cases that random pairs almost never hit.
How the bits are shown to a model (the layout) lives in :mod:`binadd.layouts`.

Worked example (two operands, n_bits = 3)::

    a = 6 = 0b110  ->  bits, least significant first: 0 1 1
    b = 3 = 0b011  ->                                 1 1 0
    a + b = 9 = 0b1001  ->  sum bits:                 1 0 0 1

The sum has four bits: the fourth is the carry out of the top bit.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# Names of the structured cases, in the order they are reported.
CASE_NAMES = (
    "carry_chain",
    "all_ones",
    "alternating",
    "alternating_plus_one",
    "top_bits",
    "zeros",
)


def extra_bits(operands: int) -> int:
    """Bits the sum of ``operands`` numbers needs beyond the operand width."""
    return max(1, math.ceil(math.log2(operands)))


def int_to_bits(value: int, n_bits: int) -> torch.Tensor:
    """Return the ``n_bits`` little-endian bits of a non-negative integer.

    Args:
        value: the integer, ``0 <= value < 2**n_bits``.
        n_bits: the width of the result.

    Returns:
        A ``uint8`` tensor of shape ``(n_bits,)``.
    """
    if value < 0:
        raise ValueError(f"cannot encode a negative number ({value})")
    if value.bit_length() > n_bits:
        raise ValueError(f"{value.bit_length()}-bit number does not fit {n_bits} bits")
    raw = value.to_bytes((n_bits + 7) // 8, "little")
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
    return torch.from_numpy(bits[:n_bits].copy())


def bits_to_int(bits: torch.Tensor | np.ndarray) -> int:
    """Return the integer whose little-endian bits are ``bits`` (a 1-D 0/1 vector)."""
    array = bits.detach().cpu().numpy() if isinstance(bits, torch.Tensor) else bits
    array = np.asarray(array).astype(np.uint8).reshape(-1)
    if array.size and array.max() > 1:
        raise ValueError("bits must be 0 or 1")
    packed = np.packbits(array, bitorder="little")
    return int.from_bytes(packed.tobytes(), "little")


def random_operands(
    batch_size: int,
    n_bits: int,
    operands: int = 2,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Draw operands uniformly from ``[0, 2**n_bits)``, bit by bit.

    Every bit is an independent fair coin, which is exactly the uniform
    distribution over ``n_bits``-bit numbers, at any width.

    Returns:
        A ``uint8`` tensor of shape ``(batch_size, operands, n_bits)``.
    """
    shape = (batch_size, operands, n_bits)
    if torch.device(device).type != "cpu":
        return torch.randint(
            0, 2, shape, generator=generator, device=device, dtype=torch.uint8
        )
    # On the CPU, draw 64 random bits per number drawn and unpack them: one
    # random word per 64 bits instead of one per bit, 10x faster at long widths.
    words = torch.randint(
        -(2**63),
        2**63 - 1,
        (batch_size, operands, (n_bits + 63) // 64),
        generator=generator,
        dtype=torch.int64,
    )
    raw = words.view(torch.uint8).numpy()
    bits = np.unpackbits(raw, axis=2, count=n_bits, bitorder="little")
    return torch.from_numpy(bits)


def _add_pair(
    x: torch.Tensor, y: torch.Tensor, carry_in: torch.Tensor | None = None
) -> torch.Tensor:
    """Add two bool bit tensors of shape (batch, width); the result has width + 1.

    A Kogge-Stone scan: after the loop, ``generate[:, i]`` tells whether a carry
    leaves bit ``i``; it takes ceil(log2(width)) vectorized steps. An incoming
    carry bit (bool, shape (batch,)) counts as generated just below bit 0.
    """
    width = x.shape[1]
    generate = x & y
    propagate = x ^ y
    if carry_in is not None:
        generate[:, 0] |= propagate[:, 0] & carry_in
    half_sum = propagate
    span = 1
    while span < width:
        new_generate = generate[:, span:] | (propagate[:, span:] & generate[:, :-span])
        new_propagate = propagate[:, span:] & propagate[:, :-span]
        generate = torch.cat([generate[:, :span], new_generate], dim=1)
        propagate = torch.cat([propagate[:, :span], new_propagate], dim=1)
        span *= 2
    # carries[:, i] is the carry into bit i; the last one is the carry out.
    first = torch.zeros_like(generate[:, 0]) if carry_in is None else carry_in
    carries = torch.cat([first.unsqueeze(1), generate], dim=1)
    return torch.cat([half_sum ^ carries[:, :width], carries[:, width:]], dim=1)


def _small_ints_to_bits(values: torch.Tensor, n_bits: int) -> torch.Tensor:
    """Bits of small non-negative int64 values, shape (batch, n_bits), as bool."""
    shifts = torch.arange(min(n_bits, 62), device=values.device)
    bits = ((values.unsqueeze(1) >> shifts) & 1).to(torch.bool)
    return torch.nn.functional.pad(bits, (0, n_bits - bits.shape[1]))


def _bits_to_small_ints(bits: torch.Tensor) -> torch.Tensor:
    """Integers (int64) from at most 62 little-endian bits, shape (batch, n)."""
    weights = 2 ** torch.arange(bits.shape[1], device=bits.device, dtype=torch.int64)
    return (bits.to(torch.int64) * weights).sum(dim=1)


def add_with_carry(
    operand_bits: torch.Tensor, carry_in: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Add operands and an incoming carry; return the low bits and the carry out.

    This is the chunk step of streaming addition: the carry out of one chunk is
    the carry in of the next, so arbitrarily long sums are computed in pieces.

    Args:
        operand_bits: 0/1 tensor of shape ``(batch, operands, width)``.
        carry_in: int64 tensor of shape ``(batch,)``, values below ``operands``;
            zero when omitted.

    Returns:
        ``(low_bits, carry_out)``: a ``uint8`` tensor of shape ``(batch, width)``
        and an int64 tensor of shape ``(batch,)`` holding what overflows the width.
    """
    batch, operands, width = operand_bits.shape
    carry_width = extra_bits(operands) + 1
    work_width = max(width, carry_width)
    columns = operand_bits.to(torch.bool)
    if work_width > width:
        pad = columns.new_zeros(batch, operands, work_width - width)
        columns = torch.cat([columns, pad], dim=2)
    addends = [columns[:, k] for k in range(operands)]
    if carry_in is not None and operands == 2:
        # Two operands carry at most 1, which the scan takes in directly.
        total = _add_pair(addends[0], addends[1], carry_in.to(torch.bool))
        return total[:, :width].to(torch.uint8), _bits_to_small_ints(total[:, width:])
    if carry_in is not None:
        addends.append(_small_ints_to_bits(carry_in.to(torch.int64), work_width))

    total = addends[0]
    for addend in addends[1:]:
        addend = torch.nn.functional.pad(addend, (0, total.shape[1] - work_width))
        total = _add_pair(total, addend)
    carry_out = _bits_to_small_ints(total[:, width:])
    return total[:, :width].to(torch.uint8), carry_out


def _add_words(operand_bits: torch.Tensor, sum_width: int) -> torch.Tensor:
    """Add on the CPU through 32-bit words: pack, add with carries, unpack.

    Each operand is packed into 32-bit words held in int64, so a column of up to
    eight words and the carry cannot overflow; the carry runs word by word.
    """
    batch, _, n_bits = operand_bits.shape
    packed = np.packbits(operand_bits.numpy(), axis=2, bitorder="little")
    padding = (-packed.shape[2]) % 4 + 4 * ((sum_width - n_bits + 31) // 32)
    packed = np.pad(packed, ((0, 0), (0, 0), (0, padding)))
    words = packed.view("<u4").astype(np.int64).sum(axis=1)
    carry = np.zeros(batch, dtype=np.int64)
    for index in range(words.shape[1]):
        column = words[:, index] + carry
        words[:, index] = column & 0xFFFFFFFF
        carry = column >> 32
    raw = words.astype("<u4").view(np.uint8)
    bits = np.unpackbits(raw, axis=1, count=sum_width, bitorder="little")
    return torch.from_numpy(bits)


def add_bits(operand_bits: torch.Tensor) -> torch.Tensor:
    """Return the exact sum bits of the operands, little-endian.

    Args:
        operand_bits: 0/1 tensor of shape ``(batch, operands, n_bits)``.

    Returns:
        A ``uint8`` tensor of shape ``(batch, n_bits + extra_bits(operands))``.
    """
    operands = operand_bits.shape[1]
    sum_width = operand_bits.shape[2] + extra_bits(operands)
    if sum_width <= 62:
        # Short sums fit an int64: pack, add and unpack, 8x faster than the scan.
        values = _bits_to_small_ints(operand_bits.flatten(0, 1).to(torch.bool))
        total = values.view(-1, operands).sum(dim=1)
        return _small_ints_to_bits(total, sum_width).to(torch.uint8)
    if operand_bits.device.type == "cpu" and sum_width <= 1 << 16:
        return _add_words(operand_bits.to(torch.uint8), sum_width)
    low, carry = add_with_carry(operand_bits)
    high = _small_ints_to_bits(carry, extra_bits(operands)).to(torch.uint8)
    return torch.cat([low, high], dim=1)


def _repeat_pattern(first: int, n_bits: int) -> torch.Tensor:
    """Alternating bits starting with ``first`` at the least significant bit."""
    return ((torch.arange(n_bits) + first) % 2 == 1).to(torch.uint8)


def structured_case(name: str, n_bits: int, operands: int = 2) -> torch.Tensor:
    """Return one structured example as operand bits of shape (1, operands, n_bits).

    The cases (shown for two operands; the others stay zero unless said):

    - ``carry_chain``: (2^L - 1) + 1, a carry runs through every bit.
    - ``all_ones``: every operand is 2^L - 1.
    - ``alternating``: ...0101 + ...1010, no carry at all.
    - ``alternating_plus_one``: ...0101 + ...1011, a carry through every bit.
    - ``top_bits``: every operand is 2^(L-1); only the top carries are set.
    - ``zeros``: 0 + 0.
    """
    case = torch.zeros(1, operands, n_bits, dtype=torch.uint8)
    if name == "carry_chain":
        case[0, 0] = 1
        case[0, 1, 0] = 1
    elif name == "all_ones":
        case[:] = 1
    elif name in ("alternating", "alternating_plus_one"):
        case[0, 0] = _repeat_pattern(1, n_bits)
        case[0, 1] = _repeat_pattern(0, n_bits)
        if name == "alternating_plus_one":
            case[0, 1, 0] = 1
    elif name == "top_bits":
        case[:, :, n_bits - 1] = 1
    elif name != "zeros":
        raise ValueError(f"unknown structured case {name!r}")
    return case


def structured_cases(n_bits: int, operands: int = 2) -> dict[str, torch.Tensor]:
    """All structured cases at one width, keyed by name."""
    return {name: structured_case(name, n_bits, operands) for name in CASE_NAMES}


def format_number(value: int, n_bits: int) -> str:
    """Decimal for numbers up to 64 bits, else a shortened hexadecimal."""
    if n_bits <= 64:
        return str(value)
    text = hex(value)
    return text if len(text) <= 24 else f"{text[:12]}...{text[-8:]}"


def describe_sum(operand_bits: torch.Tensor, predicted_bits: torch.Tensor) -> str:
    """One wrong (or right) sum in readable arithmetic.

    Args:
        operand_bits: one example's operands, shape ``(operands, n_bits)``.
        predicted_bits: the network's sum bits, little-endian.
    """
    n_bits = operand_bits.shape[1]
    values = [bits_to_int(row) for row in operand_bits]
    truth, said = sum(values), bits_to_int(predicted_bits)
    terms = " + ".join(format_number(v, n_bits) for v in values)
    if truth == said:
        return f"{terms} = {format_number(truth, n_bits + 4)} (right)"
    true_bits = add_bits(operand_bits.unsqueeze(0).cpu())[0]
    first = int((true_bits != predicted_bits.cpu().to(torch.uint8)).nonzero()[0, 0])
    return (
        f"{terms} = {format_number(truth, n_bits + 4)}, "
        f"network says {format_number(said, n_bits + 4)} (first wrong bit {first})"
    )
