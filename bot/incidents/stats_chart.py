"""``/deploy stats`` as a PNG: deployments a day (failed ones in red) with the incidents
triggered, and the median lead time a day. matplotlib is imported only when one is drawn,
with the object API (no pyplot state), in a worker thread (see ``bot.render.chart``)."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Sequence

from commands.incidents.daily import Day

OK_COLOUR, FAILED_COLOUR, INCIDENT_COLOUR, LEAD_COLOUR = "#2a9d8f", "#c1121f", "#264653", "#457b9d"
WIDTH_IN, HEIGHT_IN, DPI = 9.6, 5.2, 100
_RENDER_LOCK = threading.Lock()


async def render_stats_chart(title: str, days: Sequence[Day]) -> bytes:
    return await asyncio.to_thread(stats_chart, title, list(days))


def stats_chart(title: str, days: Sequence[Day]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    xs = list(range(len(days)))
    ok = [d.deployments - d.failures for d in days]
    failed = [d.failures for d in days]
    with _RENDER_LOCK:
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        counts, leads = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
        figure.suptitle(title, fontsize=12, fontweight="bold")
        counts.bar(xs, ok, color=OK_COLOUR, label=f"went live, held ({sum(ok)})")
        counts.bar(xs, failed, bottom=ok, color=FAILED_COLOUR, label=f"failed ({sum(failed)})")
        hit = [(x, d.deployments + 0.3) for x, d in zip(xs, days, strict=True) if d.incidents]
        if hit:
            counts.scatter(
                [x for x, _ in hit],
                [y for _, y in hit],
                marker="v",
                color=INCIDENT_COLOUR,
                label=f"incidents ({sum(d.incidents for d in days)})",
                zorder=3,
            )
        counts.set_ylabel("deployments")
        counts.yaxis.set_major_locator(MaxNLocator(integer=True))
        counts.grid(True, axis="y", alpha=0.3)
        counts.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
        lead = [
            (x, d.lead_time.total_seconds() / 60)
            for x, d in zip(xs, days, strict=True)
            if d.lead_time
        ]
        leads.plot([x for x, _ in lead], [y for _, y in lead], marker="o", color=LEAD_COLOUR)
        leads.set_ylabel("lead time (min)")
        leads.set_ylim(bottom=0)
        leads.grid(True, alpha=0.3)
        step = max(1, len(days) // 10)
        leads.set_xticks(xs[::step], [d.day.strftime("%d %b") for d in days[::step]])
        leads.set_xlabel("day (UTC)")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
