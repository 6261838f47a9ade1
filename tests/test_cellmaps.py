"""The interval cell step and Jacobian enclose torch's own step and gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from binadd.certify.cellmaps import CellMap
from binadd.certify.intervals import Interval

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def _torch_step(rnn: nn.RNNBase, kind: str, x: np.ndarray, hidden: int):
    rnn = rnn.double()
    inputs = torch.tensor(x).view(1, 1, -1)

    def step(state: torch.Tensor) -> torch.Tensor:
        h = state[:hidden].view(1, 1, hidden)
        if kind == "lstm":
            c = state[hidden:].view(1, 1, hidden)
            _, (h_next, c_next) = rnn(inputs, (h, c))
            return torch.cat([h_next.view(-1), c_next.view(-1)])
        _, h_next = rnn(inputs, h)
        return h_next.view(-1)

    return step


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_step_and_jacobian_enclose_torch(kind: str) -> None:
    torch.manual_seed(0)
    rnn, head = CELLS[kind](2, 4, 1, batch_first=True), nn.Linear(4, 1)
    cell = CellMap.from_model(rnn, head, kind)
    generator = np.random.default_rng(1)
    center = generator.uniform(-0.7, 0.7, cell.state_size)
    box = Interval(center - 0.05, center + 0.05)
    for pair in ([0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]):
        x = np.array(pair)
        step = _torch_step(rnn, kind, x, 4)
        image, jacobian = cell.step(box, x), cell.jacobian(box, x)
        for _ in range(30):
            state = torch.tensor(center + generator.uniform(-0.05, 0.05, len(center)))
            value = step(state).detach().numpy()
            slope = torch.autograd.functional.jacobian(step, state).numpy()
            assert np.all(image.lo <= value) and np.all(value <= image.hi)
            assert np.all(jacobian.lo <= slope) and np.all(slope <= jacobian.hi)


def test_float32_error_bound_covers_float32_steps() -> None:
    torch.manual_seed(0)
    rnn, head = nn.LSTM(2, 4, 1, batch_first=True), nn.Linear(4, 1)
    cell = CellMap.from_model(rnn, head, "lstm")
    state = np.random.default_rng(2).uniform(-0.9, 0.9, 8).astype(np.float32)
    bound = cell.float32_error(Interval.point(state.astype(np.float64)))
    x = np.array([1.0, 1.0])
    exact = _torch_step(nn.LSTM(2, 4, 1).double(), "lstm", x, 4)  # shape only
    del exact
    h = torch.tensor(state[:4]).view(1, 1, 4)
    c = torch.tensor(state[4:]).view(1, 1, 4)
    inputs = torch.tensor(x, dtype=torch.float32).view(1, 1, 2)
    with torch.no_grad():
        _, (h32, c32) = rnn.float()(inputs, (h, c))
    reference = cell.step(Interval.point(state.astype(np.float64)), x)
    float32 = np.concatenate([h32.view(-1).numpy(), c32.view(-1).numpy()])
    assert np.all(np.abs(float32 - reference.lo) <= bound + 1e-12)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_point_step_lies_in_the_interval_step(kind: str) -> None:
    torch.manual_seed(3)
    cell = CellMap.from_model(CELLS[kind](2, 3, 1), nn.Linear(3, 1), kind)
    states = np.random.default_rng(4).uniform(-0.9, 0.9, (5, cell.state_size))
    x = np.array([0.0, 1.0])
    points = cell.point_step(states, x)
    for state, point in zip(states, points, strict=True):
        box = cell.step(Interval.point(state), x)
        assert np.all(box.lo - 1e-12 <= point) and np.all(point <= box.hi + 1e-12)
