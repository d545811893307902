"""The canary's part of its card: stage k of n, the share (set and effective), the time left
in the stage, what paused it or which rule fired, and a line per metric."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.render.text import duration, escape


@dataclass(frozen=True, slots=True)
class CanaryMetric:
    metric: str
    canary: str
    baseline: str
    threshold: str
    ok: bool


@dataclass(frozen=True, slots=True)
class CanaryCard:
    stage: int
    """1-based."""
    stages: tuple[int, ...]
    started_at: datetime | None = None
    hold_s: float = 0.0
    effective: bool | None = None
    paused: str | None = None
    rule: str | None = None
    metrics: tuple[CanaryMetric, ...] = ()


def canary_lines(card: CanaryCard, now: datetime, *, running: bool) -> list[str]:
    percent = card.stages[card.stage - 1] if 0 < card.stage <= len(card.stages) else None
    head = f"*Canary:* stage {card.stage} of {len(card.stages)}"
    if percent is not None:
        head += f" · {percent} % on the new version"
    if card.effective is True:
        head += " · weight set, effective"
    elif card.effective is False:
        head += " · weight set, not yet effective"
    if running and card.started_at is not None and not card.paused:
        left = max(0.0, card.hold_s - (now - card.started_at).total_seconds())
        head += f" · {duration(left)} left in the stage"
    lines = [head]
    if card.paused:
        lines.append(f":double_vertical_bar: {escape(card.paused)}")
    if card.rule:
        lines.append(f":triangular_flag_on_post: {escape(card.rule)}")
    for m in card.metrics:
        mark = "✓" if m.ok else "✗"
        lines.append(
            f"{mark} {escape(m.metric)}: canary {escape(m.canary)} · baseline "
            f"{escape(m.baseline)} · limit {escape(m.threshold)}"
        )
    return lines
