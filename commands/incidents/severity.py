"""Severity words and Azure's Sev0–Sev4, onto one scale (``alerts.SEVERITIES``)."""

from __future__ import annotations

from commands.incidents.alerts import Severity

WORDS: dict[str, Severity] = {
    "critical": "critical",
    "crit": "critical",
    "p1": "critical",
    "page": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "sev0": "critical",
    "high": "high",
    "error": "high",
    "major": "high",
    "p2": "high",
    "sev1": "high",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "p3": "warning",
    "sev2": "warning",
    "info": "info",
    "low": "info",
    "minor": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
    "sev3": "info",
    "sev4": "info",
    "verbose": "info",
}
LABELS = ("severity", "priority", "level")


def severity_of(word: object, default: Severity = "warning") -> Severity:
    if not isinstance(word, str):
        return default
    return WORDS.get(word.strip().lower(), default)


def from_labels(labels: dict[str, str], default: Severity = "warning") -> Severity:
    for name in LABELS:
        if name in labels:
            return severity_of(labels[name], default)
    return default
