"""Minimizing extracted automata and comparing them with the serial adder."""

from __future__ import annotations

from binadd.certify.automaton import (
    INPUT_PAIRS,
    equivalent_to_adder,
    minimize,
    serial_adder,
    summary,
)
from binadd.certify.partitions import PAIRS, Partition


def _from_partition(depth: int) -> dict:
    partition, table = Partition(depth), {}
    for key in range(partition.size):
        for pair in range(4):
            target = partition.successor(key, pair)
            table[(partition.label(key), PAIRS[pair])] = (
                partition.label(target),
                partition.meaning(target)[0],
            )
    for pair in range(4):
        target = partition.key(0, (pair,)) if partition.window == 1 else None
        if target is not None:
            table[("start", PAIRS[pair])] = (
                partition.label(target),
                partition.meaning(target)[0],
            )
    return table


def test_serial_adder_is_minimal() -> None:
    assert len(minimize(serial_adder())) == 2


def test_partition_automata_minimize_to_the_adder() -> None:
    for depth in (0, 1):
        table = _from_partition(depth)
        assert equivalent_to_adder(table, "start")
        assert summary(table, "start")["minimal_states"] == 2


def test_one_wrong_output_breaks_equivalence() -> None:
    table = _from_partition(0)
    state, pair = "s1c1", INPUT_PAIRS[1]
    nxt, bit = table[(state, pair)]
    table[(state, pair)] = (nxt, 1 - bit)
    assert not equivalent_to_adder(table, "start")
    assert summary(table, "start")["minimal_states"] > 2


def test_history_keys_round_trip() -> None:
    partition = Partition(3)
    for key in range(partition.size):
        carry, pairs = partition.history(key)
        assert partition.key(carry, pairs) == key
        # The successor forgets the oldest pair and appends the new one.
        assert partition.history(partition.successor(key, 2))[1] == (*pairs[1:], 2)
