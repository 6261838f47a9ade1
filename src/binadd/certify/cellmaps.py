"""One recurrent step of an LSTM, GRU or tanh-RNN cell, over intervals.

The certifier needs three things of a cell, each as a sound enclosure over a
box of states: the step itself (the natural interval extension), the Jacobian of
the step with respect to the state (for the mean-value form), and a bound on the
error that float32 evaluation of one step can add. The weights are the model's
float32 numbers converted exactly to float64.

A state is one flat vector: ``h`` for a GRU or RNN, ``h`` then ``c`` for an LSTM.
The formulas follow torch's ``nn.LSTM`` (gates i, f, g, o), ``nn.GRU`` (gates
r, z, n, with ``r`` applied to ``W_hn h + b_hn``) and ``nn.RNN`` (tanh).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from binadd.certify import intervals as iv
from binadd.certify.intervals import Interval

# Unit roundoff of float32, and what one float32 activation may be off by.
UNIT32 = 2.0**-24
ACTIVATION32 = 16 * UNIT32


@dataclass(frozen=True)
class CellMap:
    """A single-layer recurrent cell and its linear read-out, in float64."""

    kind: str
    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias: np.ndarray
    bias_hn: np.ndarray
    head_weight: np.ndarray
    head_bias: float

    @classmethod
    def from_model(cls, rnn: nn.RNNBase, head: nn.Linear, kind: str) -> CellMap:
        """Read the weights of ``rnn`` (one layer) and ``head``; exact in float64."""

        def exact(name: str) -> np.ndarray:
            return getattr(rnn, name).detach().double().cpu().numpy().copy()

        hidden = rnn.hidden_size
        bias_ih, bias_hh = exact("bias_ih_l0"), exact("bias_hh_l0")
        bias_hn = np.zeros(hidden)
        if kind == "gru":
            # The reset gate scales W_hn h + b_hn, so b_hn cannot be merged.
            bias_hn = bias_hh[2 * hidden :].copy()
            bias_hh[2 * hidden :] = 0.0
        return cls(
            kind=kind,
            weight_ih=exact("weight_ih_l0"),
            weight_hh=exact("weight_hh_l0"),
            # Two float64 additions of float32 numbers can round: keep them apart
            # by adding as intervals where used (see _pre_activation).
            bias=np.stack([bias_ih, bias_hh]),
            bias_hn=bias_hn,
            head_weight=head.weight.detach().double().cpu().numpy()[0].copy(),
            head_bias=float(head.bias.detach().double().cpu()[0]),
        )

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[1]

    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size if self.kind == "lstm" else self.hidden_size

    def readout_weight(self) -> np.ndarray:
        """The head's weights over the whole state (zero on an LSTM's ``c``)."""
        weight = np.zeros(self.state_size)
        weight[: self.hidden_size] = self.head_weight
        return weight

    def _pre_activation(self, h: Interval, x: np.ndarray) -> Interval:
        """``W_ih x + b_ih + W_hh h + b_hh`` for every gate, as an interval."""
        drive = iv.matmul(self.weight_ih, Interval.point(x))
        return drive + self.bias[0] + self.bias[1] + iv.matmul(self.weight_hh, h)

    def step(self, state: Interval, x: np.ndarray) -> Interval:
        """An enclosure of the next state for every state in ``state``."""
        return self._forward(state, x)[0]

    def jacobian(self, state: Interval, x: np.ndarray) -> Interval:
        """An enclosure of d(next state)/d(state) over the box ``state``."""
        return self._forward(state, x)[1]

    def _forward(self, state: Interval, x: np.ndarray) -> tuple[Interval, Interval]:
        size = self.hidden_size
        h = state[:size]
        z = self._pre_activation(h, x)
        if self.kind == "lstm":
            return self._lstm(state[size:], z)
        if self.kind == "gru":
            return self._gru(h, z, x)
        # Plain RNN: h' = tanh(z), J = diag(tanh'(z)) W_hh.
        return iv.tanh(z), iv.matmul(iv.diag(iv.tanh_slope(z)), self.weight_hh)

    def _lstm(self, c: Interval, z: Interval) -> tuple[Interval, Interval]:
        size = self.hidden_size
        parts = [z[k * size : (k + 1) * size] for k in range(4)]
        rows = [self.weight_hh[k * size : (k + 1) * size] for k in range(4)]
        i, f, o = iv.sigmoid(parts[0]), iv.sigmoid(parts[1]), iv.sigmoid(parts[3])
        g = iv.tanh(parts[2])
        c_next = f * c + i * g
        squashed = iv.tanh(c_next)
        h_next = o * squashed

        # dc'/dh through the gates i, f, g; dc'/dc = diag(f).
        dc_dh = (
            iv.matmul(iv.diag(c * iv.sigmoid_slope(parts[1])), rows[1])
            + iv.matmul(iv.diag(g * iv.sigmoid_slope(parts[0])), rows[0])
            + iv.matmul(iv.diag(i * iv.tanh_slope(parts[2])), rows[2])
        )
        outer = o * iv.tanh_slope(c_next)
        dh_dh = iv.matmul(
            iv.diag(squashed * iv.sigmoid_slope(parts[3])), rows[3]
        ) + iv.matmul(iv.diag(outer), dc_dh)
        dh_dc = iv.diag(outer * f)
        top = iv.concat([dh_dh, dh_dc], axis=1)
        bottom = iv.concat([dc_dh, iv.diag(f)], axis=1)
        return iv.concat([h_next, c_next]), iv.concat([top, bottom])

    def _gru(
        self, h: Interval, z: Interval, x: np.ndarray
    ) -> tuple[Interval, Interval]:
        size = self.hidden_size
        rows = [self.weight_hh[k * size : (k + 1) * size] for k in range(3)]
        r = iv.sigmoid(z[:size])
        u = iv.sigmoid(z[size : 2 * size])
        # n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); b_hh's n part is b_hn.
        drive = iv.matmul(self.weight_ih[2 * size :], Interval.point(x))
        drive = drive + self.bias[0, 2 * size :]
        recurrent = iv.matmul(rows[2], h) + self.bias_hn
        inner = drive + r * recurrent
        n = iv.tanh(inner)
        h_next = (1.0 - u) * n + u * h

        dr = iv.matmul(iv.diag(iv.sigmoid_slope(z[:size])), rows[0])
        du = iv.matmul(iv.diag(iv.sigmoid_slope(z[size : 2 * size])), rows[1])
        d_inner = iv.matmul(iv.diag(recurrent), dr) + iv.matmul(iv.diag(r), rows[2])
        dn = iv.matmul(iv.diag(iv.tanh_slope(inner)), d_inner)
        jac = (
            iv.matmul(iv.diag(1.0 - u), dn) + iv.matmul(iv.diag(h - n), du) + iv.diag(u)
        )
        return h_next, jac

    def point_step(self, states: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The step of many states (count, state size) in plain float64 (not an
        enclosure: for sampling where regions should reach, never for proof)."""
        size = self.hidden_size
        h = states[:, :size]
        z = x @ self.weight_ih.T + self.bias.sum(axis=0) + h @ self.weight_hh.T

        def sigmoid(values: np.ndarray) -> np.ndarray:
            return 0.5 * (1.0 + np.tanh(0.5 * values))

        if self.kind == "rnn":
            return np.tanh(z)
        if self.kind == "lstm":
            i, f = sigmoid(z[:, :size]), sigmoid(z[:, size : 2 * size])
            g, o = np.tanh(z[:, 2 * size : 3 * size]), sigmoid(z[:, 3 * size :])
            c_next = f * states[:, size:] + i * g
            return np.concatenate([o * np.tanh(c_next), c_next], axis=1)
        r, u = sigmoid(z[:, :size]), sigmoid(z[:, size : 2 * size])
        recurrent = h @ self.weight_hh[2 * size :].T + self.bias_hn
        drive = x @ self.weight_ih[2 * size :].T + self.bias[0, 2 * size :]
        n = np.tanh(drive + r * recurrent)
        return (1.0 - u) * n + u * h

    def float32_error(self, hull: Interval) -> float:
        """A bound on how far float32 evaluation of one step from a state in
        ``hull`` can land from the exact step (max norm).

        Each pre-activation is a sum of ``n`` products, off by at most
        ``gamma32(n)`` times the sum of their magnitudes; the activations are
        1-Lipschitz and taken to be within 16 ulps; the few products and sums
        after them add a few roundings more. The result is doubled for slack.
        """
        size, n = self.hidden_size, self.weight_ih.shape[1] + self.hidden_size + 2
        magnitude = hull.magnitude()
        h_max, c_max = float(magnitude[:size].max()), 0.0
        if self.kind == "lstm":
            c_max = float(magnitude[size:].max())
        terms = (
            np.abs(self.weight_ih).sum(axis=1)
            + np.abs(self.weight_hh).sum(axis=1) * max(h_max, 1.0)
            + np.abs(self.bias).sum(axis=0)
        )
        gamma32 = n * UNIT32 / (1 - n * UNIT32)
        pre = float(gamma32 * terms.max())
        gate = pre + ACTIVATION32
        if self.kind == "lstm":
            cell = gate * (c_max + 2.0) + 4 * UNIT32 * (c_max + 1.0)
            total = gate + cell + ACTIVATION32 + 2 * UNIT32
        elif self.kind == "gru":
            scale = float(np.abs(self.weight_hh).sum(axis=1).max()) + 1.0
            total = 3 * gate + gate * scale + 8 * UNIT32 * (h_max + 1.0)
        else:
            total = gate
        return 2.0 * total

    def readout_error(self, hull: Interval) -> float:
        """A bound on the float32 rounding error of the head's logit."""
        size = self.hidden_size
        terms = np.abs(self.head_weight) @ hull.magnitude()[:size] + abs(self.head_bias)
        gamma32 = (size + 2) * UNIT32 / (1 - (size + 2) * UNIT32)
        return 2.0 * float(gamma32 * terms)
