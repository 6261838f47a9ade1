"""Why a tanh RNN does or does not certify: how fast its state forgets.

The certifier's induction is one step long: every history region, in its
principal-axes frame, must map into its successor's region in one step. At
linear order that is possible only when the largest growth of the box radii
over the region graph, ``g = lim max_paths (|inverse_B J frame_A| r)^(1/n)``,
is below one. This script measures, for each run directory given:

- ``rho`` and ``norm2``: spectral radius and 2-norm of the Jacobian at the
  fixed point of input (0, 0) (a non-normal contraction has rho < 1 < norm2);
- ``products``: the largest 2-norm of a product of 1 to 8 consecutive
  Jacobians along visited trajectories (400 sampled windows);
- ``width``: the largest and smallest half-width of the visited states of
  region ``c0:00,00,00`` (history-3) along their principal axes;
- ``growth``: ``g`` above for history-3 regions, Jacobians at the region
  centres, by power iteration; it is a lower bound on what the interval
  proof needs, which also pays for the curvature inside each region::

    python benchmarks/certify_contraction.py RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from binadd.certify.cellmaps import CellMap
from binadd.certify.partitions import PAIRS, Partition
from binadd.certify.visits import Visits, collect_visits
from binadd.evaluate import restore_model
from binadd.rundir import RunDir


def jacobian(cell: CellMap, state: np.ndarray, pair: np.ndarray) -> np.ndarray:
    """The tanh RNN's step Jacobian at one state, in float64."""
    z = pair @ cell.weight_ih.T + cell.bias.sum(axis=0) + state @ cell.weight_hh.T
    return (1.0 - np.tanh(z) ** 2)[:, None] * cell.weight_hh


def fixed_point_jacobian(cell: CellMap) -> np.ndarray:
    """The Jacobian at the state that input (0, 0) converges to from zero."""
    state, zero = np.zeros(cell.hidden_size), np.zeros(2)
    for _ in range(300):
        state = cell.point_step(state[None], zero)[0]
    return jacobian(cell, state, zero)


def product_norms(cell: CellMap, visits: Visits, steps: int = 8) -> np.ndarray:
    """Largest 2-norm of products of 1..steps Jacobians along visited paths."""
    pairs = np.stack([visits.a, visits.b], axis=-1).astype(np.float64)
    generator, worst = np.random.default_rng(0), np.zeros(steps)
    for _ in range(400):
        row = generator.integers(visits.states.shape[0])
        start = generator.integers(5, visits.states.shape[1] - steps - 2)
        product = np.eye(cell.hidden_size)
        for k in range(steps):
            state = visits.states[row, start + k]
            product = jacobian(cell, state, pairs[row, start + k + 1]) @ product
            worst[k] = max(worst[k], np.linalg.norm(product, 2))
    return worst


def box_growth(cell: CellMap, visits: Visits, depth: int = 3) -> tuple[float, ...]:
    """Linear growth ``g`` of box radii per step, and the half-widths of the
    first region, for the history partition of ``depth``."""
    partition = Partition(depth)
    keys = partition.keys(visits).reshape(-1)
    states = visits.states.reshape(-1, visits.states.shape[-1])
    groups = [k for k in range(partition.size) if (keys == k).sum() > 16]
    index = {key: i for i, key in enumerate(groups)}
    centres = {key: states[keys == key].mean(axis=0) for key in groups}
    frames = {
        key: np.linalg.eigh(np.cov(states[keys == key], rowvar=False))[1]
        for key in groups
    }
    coords = (states[keys == groups[0]] - centres[groups[0]]) @ frames[groups[0]]
    half = 0.5 * np.ptp(coords, axis=0)
    sources, targets, blocks = [], [], []
    for key in groups:
        for pair in range(4):
            target = partition.successor(key, pair)
            if target in index:
                step = jacobian(cell, centres[key], np.array(PAIRS[pair], float))
                sources.append(index[key])
                targets.append(index[target])
                blocks.append(np.abs(frames[target].T @ step @ frames[key]))
    radii, growth = np.ones((len(groups), cell.hidden_size)), 0.0
    for _ in range(200):
        images = np.einsum("eij,ej->ei", np.array(blocks), radii[sources])
        grown = np.zeros_like(radii)
        np.maximum.at(grown, np.array(targets), images)
        growth, radii = grown.max() / radii.max(), grown / grown.max()
    return float(growth), float(half.max()), float(half.min())


def measure(path: Path) -> str:
    """One line of numbers for one run directory."""
    checkpoint = RunDir.open(path).load_checkpoint()
    if checkpoint.config.model.kind != "rnn":
        return f"{path}: not a tanh RNN"
    model = restore_model(checkpoint, torch.device("cpu")).float().eval()
    cell = CellMap.from_model(model.rnn, model.head, "rnn")
    visits = collect_visits(model, 500, 32, 0)
    fixed = fixed_point_jacobian(cell)
    rho = float(np.abs(np.linalg.eigvals(fixed)).max())
    products = " ".join(f"{value:.2f}" for value in product_norms(cell, visits))
    growth, widest, thinnest = box_growth(cell, visits)
    return (
        f"{path}: rho {rho:.3f} norm2 {np.linalg.norm(fixed, 2):.3f} "
        f"products [{products}] width {widest:.3g}/{thinnest:.2g} growth {growth:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run directories")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for path in args.runs:
        print(measure(path), flush=True)


if __name__ == "__main__":
    main()
