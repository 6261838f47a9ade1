"""``states.png``: the states a network visits, and the regions of its proof.

The visited states are projected to two dimensions by PCA and coloured by the
abstract state (sum bit, carry) they should encode; each region, a
parallelotope, projects to a zonotope, drawn as an outline in its colour.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only: no display is needed or wanted.
import matplotlib.pyplot as plt
import numpy as np

from binadd.certify.proof import Attempt
from binadd.certify.visits import Visits
from binadd.plots import save_figure

COLOURS = {(0, 0): "#1f77b4", (1, 0): "#2ca02c", (0, 1): "#d62728", (1, 1): "#9467bd"}
MAX_POINTS = 4000


def zonotope(center: np.ndarray, generators: np.ndarray) -> np.ndarray:
    """Vertices (count, 2) of the zonotope ``center + generators @ [-1, 1]^d``."""
    flip = (generators[1] < 0) | ((generators[1] == 0) & (generators[0] < 0))
    upper = np.where(flip, -generators, generators)
    order = np.argsort(np.arctan2(upper[1], upper[0]))
    steps = 2 * upper[:, order].T
    start = center - upper.sum(axis=1)
    path = start + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
    back = path[-1] - np.cumsum(steps, axis=0)
    return np.concatenate([path, back])


def plot_states(path: Path, visits: Visits, best: Attempt, verdict: str) -> Path:
    """Draw the projected states and regions into ``path`` (atomically)."""
    states = visits.states.reshape(-1, visits.states.shape[-1])
    labels = np.stack([visits.sum_bits.reshape(-1), visits.carries.reshape(-1)], axis=1)
    mean = states.mean(axis=0)
    _, _, axes_t = np.linalg.svd(states - mean, full_matrices=False)
    projection = axes_t[:2] if axes_t.shape[0] >= 2 else np.eye(2, states.shape[1])
    pick = np.random.default_rng(0).permutation(len(states))[:MAX_POINTS]
    flat = (states[pick] - mean) @ projection.T

    figure, axis = plt.subplots(figsize=(6.4, 5.2))
    for meaning, colour in COLOURS.items():
        chosen = np.all(labels[pick] == meaning, axis=1)
        axis.scatter(
            flat[chosen, 0],
            flat[chosen, 1],
            s=4,
            color=colour,
            alpha=0.5,
            label=f"sum bit {meaning[0]}, carry {meaning[1]}",
        )
    for key, region in best.regions.items():
        center = projection @ (region.center - mean)
        generators = projection @ region.frame * region.radius
        outline = zonotope(center, generators)
        colour = COLOURS[best.partition.meaning(key)]
        axis.fill(outline[:, 0], outline[:, 1], fill=False, color=colour, lw=0.8)
    axis.set_xlabel("principal component 1")
    axis.set_ylabel("principal component 2")
    axis.set_title(f"visited states and {best.partition.name} regions: {verdict}")
    axis.legend(loc="best", fontsize=8, markerscale=3)
    return save_figure(figure, path)
