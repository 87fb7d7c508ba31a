"""Temperature at every pulse end (Pennes): the hottest node and the 99th percentile by
volume, for one run or several (e.g. 1 Hz against 5 kHz)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_pulse_temperatures(histories: dict[str, object], path: Path, title: str = "") -> Path:
    """``histories``: label -> solve.thermal.ThermalHistory; writes a PNG, returns its path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from simulator.output.figures import literal

    fig = Figure(figsize=(6.4, 4.0), dpi=200)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    for (label, h), colour in zip(histories.items(), colours):
        n = np.arange(1, len(h.pulse_end_max_C) + 1)
        ax.plot(n, h.pulse_end_max_C, "-o", ms=2.5, color=colour, label=f"{literal(label)}: hottest point")
        ax.plot(n, h.pulse_end_T99_C, "--", color=colour, label=f"{literal(label)}: T99 (by volume)")
    ax.set_xlabel("pulse")
    ax.set_ylabel("temperature at the end of the pulse (C)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(literal(title) if title else "Pennes bioheat: temperature at every pulse end", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)
