"""The cell-kill probability on the x-z slice through the slice centre (``kill_probability.png``)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.solve.result import Result


def plot_kill_probability(result: "Result", path: Path) -> Path:
    """Per-cell kill probability (0..1) on the vertical slice y = centre, with the tumours."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from simulator.output import figures as F
    centre = F._centre(result)
    ur, vr = F._slice_ranges(result, 1)
    sample = F.sample_plane(result.mesh, 1, float(centre[1]), ur, vr)
    P = sample.values(result.kill_probability.max(axis=1))
    fig = Figure(figsize=F.FIGSIZE, dpi=F.DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ext = [e * 1e3 for e in sample.extent]
    im = ax.imshow(P, origin="lower", extent=ext, cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
    mm = 1e3
    ax.contour(sample.u * mm, sample.v * mm, P.filled(0.0), levels=[0.9], colors="cyan", linewidths=0.8)
    F._draw_tumours(ax, result.scenario.tumours, sample)
    F._draw_electrodes(ax, result.scenario.electrode, sample, 0.0)
    fig.colorbar(im, ax=ax, label="kill probability (Peleg-Fermi); cyan: P = 0.9")
    n = result.scenario.protocol.total_pulses
    ax.set_title(f"{F.literal(result.scenario.name)}: cell kill after {n} pulses, x-z slice at y = {centre[1] * mm:.1f} mm",
                 fontsize=9)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("z (mm)")
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)
