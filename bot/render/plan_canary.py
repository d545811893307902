"""The canary part of a dry run: stages and routing, durations, metric queries, breach timing."""

from __future__ import annotations

from bot.render.text import code, duration, escape
from commands.plan_canary import CanaryPlan

SOURCES = {
    "scrape": "a /metrics scrape of each target",
    "prometheus": "the Prometheus HTTP API (PromQL)",
    "azure-monitor": "Azure Monitor (App Service metrics)",
}


def canary_parts(c: CanaryPlan) -> list[str]:
    """One text per part, each short enough for its own Block Kit section."""
    return [_stages(c), _durations(c), _queries(c), _breach(c)]


def _stages(c: CanaryPlan) -> str:
    lines = [f"*Canary stages* ({escape(c.target)} against the baseline {escape(c.baseline)})"]
    lines += [
        f"{i}. {s.percent} % for {duration(s.hold_s)}: {escape(s.routing)}"
        for i, s in enumerate(c.stages, 1)
    ]
    lines.append(f"{len(c.stages) + 1}. 100 %: {escape(c.promotion)}")
    return "\n".join(lines)


def _durations(c: CanaryPlan) -> str:
    extensions = (
        f"a stage with too little data is extended by its hold, up to {c.max_extensions} "
        f"time{'s' * (c.max_extensions != 1)}, then paused with a question"
        if c.max_extensions
        else "a stage with too little data is paused with a question (no extensions)"
    )
    return (
        f"*Durations:* judged every {duration(c.interval_s)}; {extensions}. "
        f"Analysis {duration(c.judged_s)} in all, at most {duration(c.longest_s)} with every "
        "extension (pauses not counted)."
    )


def _queries(c: CanaryPlan) -> str:
    lines = [f"*Metric queries* — {SOURCES.get(c.source, c.source)}, each run once now"]
    for q in c.queries:
        mark = "✓" if q.ok else "✗"
        lines.append(f"{mark} {escape(q.target)} ({q.role}): {code(q.query)} — {escape(q.detail)}")
    return "\n".join(lines)


def _breach(c: CanaryPlan) -> str:
    b = c.breach
    ttl = (
        f"{duration(b.ttl_s)} DNS TTL"
        if b.ttl_s
        else "no DNS wait (the ramp-up rule applies at App Service's front end)"
    )
    return (
        f"*Breach → traffic back on {escape(c.baseline)}:* at most {duration(b.total_s)} = "
        f"{duration(b.interval_s)} × {b.consecutive_failures} consecutive failing intervals "
        f"+ {duration(b.switch_s)} switch (one Azure round trip now; up to "
        f"{duration(b.switch_limit_s)} with retries) + {ttl}."
    )
