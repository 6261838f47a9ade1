"""Ways to group visited states: by abstract state, or by recent history.

A partition gives every state after step t >= depth - 1 a key that fixes what
the state must encode and where each input pair sends it:

- ``state``: the key is the abstract state itself, (sum bit, carry): 4 groups.
- ``history-k``: the key is the carry before the last k steps and the k input
  pairs of those steps: 2 * 4^k groups. A network whose state remembers a few
  steps back visits a spread-out set per abstract state; grouping by history
  cuts it into small pieces that one step maps onto each other.

Keys are integers: ``carry * 4^k + sum(pair_i * 4^(k - i))`` with ``pair =
2a + b``, oldest pair first; for ``state`` the key is ``sum bit + 2 * carry``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from binadd.certify.visits import Visits

PAIRS = ((0, 0), (0, 1), (1, 0), (1, 1))


def add_step(carry: int, pair: int) -> tuple[int, int]:
    """(sum bit, carry out) of one serial-adder step."""
    total = carry + pair // 2 + pair % 2
    return total % 2, total // 2


@dataclass(frozen=True)
class Partition:
    """A grouping of states; ``depth`` 0 means the abstract-state partition."""

    depth: int

    @property
    def name(self) -> str:
        return "state" if self.depth == 0 else f"history-{self.depth}"

    @property
    def window(self) -> int:
        """How many steps from the start a key needs."""
        return max(self.depth, 1)

    @property
    def size(self) -> int:
        return 4 if self.depth == 0 else 2 * 4**self.depth

    def key(self, carry: int, pairs: tuple[int, ...]) -> int:
        """The key after input ``pairs`` (the last ``window``) from ``carry``."""
        if self.depth == 0:
            bit, out = add_step(carry, pairs[-1])
            return bit + 2 * out
        code = carry
        for pair in pairs:
            code = 4 * code + pair
        return code

    def history(self, key: int) -> tuple[int, tuple[int, ...]]:
        pairs = []
        for _ in range(self.depth):
            pairs.append(key % 4)
            key //= 4
        return key, tuple(reversed(pairs))

    def meaning(self, key: int) -> tuple[int, int]:
        """(sum bit just emitted, carry held) of the states of group ``key``."""
        if self.depth == 0:
            return key % 2, key // 2
        carry, pairs = self.history(key)
        bit = 0
        for pair in pairs:
            bit, carry = add_step(carry, pair)
        return bit, carry

    def successor(self, key: int, pair: int) -> int:
        """The group that input ``pair`` leads to from group ``key``."""
        if self.depth == 0:
            return self.key(key // 2, (pair,))
        carry, pairs = self.history(key)
        _, carry = add_step(carry, pairs[0])
        return self.key(carry, (*pairs[1:], pair))

    def label(self, key: int) -> str:
        bit, carry = self.meaning(key)
        if self.depth == 0:
            return f"s{bit}c{carry}"
        first, pairs = self.history(key)
        shown = ",".join(f"{p // 2}{p % 2}" for p in pairs)
        return f"c{first}:{shown}"

    def keys(self, visits: Visits) -> np.ndarray:
        """Key of every visited state, shape (batch, steps); -1 before a full
        window has been seen."""
        pair = 2 * visits.a + visits.b
        if self.depth == 0:
            return visits.sum_bits + 2 * visits.carries
        steps = pair.shape[1]
        keys = np.full(pair.shape, -1, dtype=np.int64)
        if steps < self.depth:
            return keys
        span = steps - self.depth + 1
        code = visits.carry_in[:, :span].astype(np.int64)
        for offset in range(self.depth):
            code = 4 * code + pair[:, offset : offset + span]
        keys[:, self.depth - 1 :] = code
        return keys
