"""The automaton a certified network implements, minimized and compared.

A certificate's transition table is a Mealy machine: from a state, each input
pair (a, b) leads to a next state and emits the sum bit that the next state's
read-out shows. Minimizing it by partition refinement (Moore's algorithm) must
leave exactly the two states of the serial adder, carry 0 and carry 1, and a
walk over the product with the serial adder must never see the outputs differ.
"""

from __future__ import annotations

from collections.abc import Mapping

INPUT_PAIRS = ((0, 0), (0, 1), (1, 0), (1, 1))

# (state, input pair) -> (next state, emitted bit)
Table = Mapping[tuple[str, tuple[int, int]], tuple[str, int]]


def serial_adder() -> dict[tuple[str, tuple[int, int]], tuple[str, int]]:
    """The two-state serial adder: the state is the carry."""
    table = {}
    for carry in (0, 1):
        for a, b in INPUT_PAIRS:
            total = a + b + carry
            table[(f"carry{carry}", (a, b))] = (f"carry{total // 2}", total % 2)
    return table


def states_of(table: Table) -> list[str]:
    return sorted({state for state, _ in table} | {nxt for nxt, _ in table.values()})


def minimize(table: Table) -> list[set[str]]:
    """Blocks of equivalent states (states with the same output on every word).

    Starts from the partition by outputs on one input pair and splits blocks by
    the blocks their successors fall in, until nothing splits.
    """
    states = states_of(table)
    block = {s: tuple(table[(s, pair)][1] for pair in INPUT_PAIRS) for s in states}
    while True:
        signature = {
            s: (block[s], tuple(block[table[(s, pair)][0]] for pair in INPUT_PAIRS))
            for s in states
        }
        if len(set(signature.values())) == len(set(block.values())):
            break
        block = signature  # type: ignore[assignment]
    groups: dict[object, set[str]] = {}
    for state in states:
        groups.setdefault(block[state], set()).add(state)
    return list(groups.values())


def equivalent_to_adder(table: Table, start: str) -> bool:
    """Whether ``table`` from ``start`` emits the serial adder's bits on every
    input word (a walk over the reachable pairs of the product machine)."""
    adder = serial_adder()
    seen, frontier = set(), [(start, "carry0")]
    while frontier:
        pair = frontier.pop()
        if pair in seen:
            continue
        seen.add(pair)
        for bits in INPUT_PAIRS:
            if (pair[0], bits) not in table:
                return False
            mine, theirs = table[(pair[0], bits)], adder[(pair[1], bits)]
            if mine[1] != theirs[1]:
                return False
            frontier.append((mine[0], theirs[0]))
    return True


def reachable(table: Table, start: str) -> set[str]:
    seen, frontier = set(), [start]
    while frontier:
        state = frontier.pop()
        if state in seen:
            continue
        seen.add(state)
        frontier += [table[(state, bits)][0] for bits in INPUT_PAIRS]
    return seen


def summary(table: Table, start: str) -> dict[str, object]:
    """Sizes before and after minimization, and the comparison with the adder."""
    live = reachable(table, start)
    trimmed = {key: value for key, value in table.items() if key[0] in live}
    return {
        "states": len(live),
        "minimal_states": len(minimize(trimmed)),
        "equivalent_to_serial_adder": equivalent_to_adder(table, start),
    }
