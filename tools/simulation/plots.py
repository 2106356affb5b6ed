"""PNG plots of a run: callers waiting per site over the day, and SL per hour per site.

matplotlib with the Agg backend (files only, no display), imported here only, so the rest of
the simulator and the ACD never pay for it. One figure per measure, one panel per site, one
line per policy (the pooled bound as a dashed line on the SL panels).
"""

from __future__ import annotations

import math
from pathlib import Path

from tools.simulation.report import hourly, pooled_bound
from tools.simulation.run import RunResult

COLOURS = {"isolated": "#c0392b", "pln123": "#2471a3"}


def write_plots(result: RunResult, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    sites = list(result.scenario.sites)
    hours = math.ceil(result.scenario.duration_h)
    rows = len(sites)
    written = []

    fig, axes = plt.subplots(rows, 1, figsize=(10, 2.2 * rows), sharex=True, squeeze=False)
    for ax, site in zip(axes[:, 0], sites, strict=True):
        for policy, world in result.worlds.items():
            xs = [t / 3600 for t, _ in world.book.samples]
            ys = [counts.get(site, 0) for _, counts in world.book.samples]
            ax.plot(xs, ys, label=policy, color=COLOURS.get(policy))
        ax.set_ylabel(site)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(f"{result.scenario.name}: callers waiting (incl. kept callbacks)")
    axes[0, 0].legend(loc="upper left")
    axes[-1, 0].set_xlabel("hour of the simulated day")
    fig.tight_layout()
    path = out / "waiting.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)

    fig, axes = plt.subplots(rows, 1, figsize=(10, 2.2 * rows), sharex=True, squeeze=False)
    for ax, site in zip(axes[:, 0], sites, strict=True):
        for policy, world in result.worlds.items():
            hs: list[float] = []
            sls: list[float] = []
            for h, f in enumerate(hourly(world, site, hours)):
                if f.sl is not None:
                    hs.append(h + 0.5)
                    sls.append(100 * f.sl)
            ax.plot(hs, sls, marker=".", label=policy, color=COLOURS.get(policy))
        bound = pooled_bound(result.scenario, site)
        if bound is not None:
            ax.axhline(100 * bound, linestyle="--", color="grey", label="pooled bound (day)")
        ax.set_ylim(0, 105)
        ax.set_ylabel(f"{site} SL %")
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(f"{result.scenario.name}: service level per hour "
                         f"(answered within {result.scenario.acd.service_level_s:g} s)")
    axes[0, 0].legend(loc="lower left")
    axes[-1, 0].set_xlabel("hour of the simulated day (by arrival)")
    fig.tight_layout()
    path = out / "service_level.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
    return written
