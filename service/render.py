"""Heat maps as pictures: PNG (matplotlib) and a standalone HTML table."""

from __future__ import annotations

import html
import io
from zoneinfo import ZoneInfo

import numpy as np

from ingest.document import format_clock
from solver.heatmap import Heatmap


def _matrix(hm: Heatmap, zone: ZoneInfo) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    grid = hm.day_grid(zone)
    counts = hm.counts
    values = np.where(grid.slot >= 0, counts[np.maximum(grid.slot, 0)], -1).astype(float)
    past = (grid.slot >= 0) & (grid.slot < hm.past)
    times = [format_clock(t) for t in grid.times]
    return grid.dates, times, values, past


def heatmap_png(hm: Heatmap, zone: ZoneInfo) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dates, times, values, past = _matrix(hm, zone)
    shown = np.ma.masked_where((values < 0) | past, values)
    fig, ax = plt.subplots(figsize=(max(6, len(dates) * 0.12), 6), dpi=100)
    ax.set_facecolor("#dddddd")  # past and missing cells show as grey
    image = ax.imshow(
        shown.T, aspect="auto", cmap="Greens", vmin=0, vmax=len(hm.members), interpolation="nearest"
    )
    step = max(1, len(times) // 24)
    ax.set_yticks(range(0, len(times), step), times[::step], fontsize=7)
    dstep = max(1, len(dates) // 20)
    ax.set_xticks(range(0, len(dates), dstep), dates[::dstep], rotation=90, fontsize=7)
    ax.set_title(
        f"{', '.join(hm.members)}: {hm.duration_minutes}-minute sessions ({zone.key})", fontsize=9
    )
    fig.colorbar(image, ax=ax, label="members who can attend")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def heatmap_html(hm: Heatmap, zone: ZoneInfo) -> str:
    dates, times, values, past = _matrix(hm, zone)
    n = max(len(hm.members), 1)
    rows = []
    for t, label in enumerate(times):
        cells = []
        for d in range(len(dates)):
            v = values[d, t]
            if v < 0:
                cells.append('<td class="none"></td>')
            elif past[d, t]:
                cells.append('<td class="past" title="past"></td>')
            else:
                shade = 0.1 + 0.9 * v / n
                mark = "●" if v == len(hm.members) else ""
                cells.append(
                    f'<td style="background:rgba(22,128,60,{shade:.2f})" '
                    f'title="{int(v)} of {n}">{mark}</td>'
                )
        rows.append(f"<tr><th>{label}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(d[5:])}</th>" for d in dates)
    title = html.escape(f"{', '.join(hm.members)}: {hm.duration_minutes}-minute sessions")
    return f"""<!doctype html><html lang="en"><meta charset="utf-8"><title>{title}</title>
<style>body{{font:12px sans-serif}}
td{{width:14px;height:10px;text-align:center;font-size:8px;color:#fff}}
td.past{{background:#ccc}}td.none{{background:#fff}}th{{font-weight:normal;font-size:9px}}</style>
<h1>{title}</h1><p>Times in {html.escape(zone.key)}; ● everyone is free; grey is past.</p>
<table><tr><th></th>{head}</tr>{"".join(rows)}</table></html>
"""
