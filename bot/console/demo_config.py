"""The demo's configuration: the reference system with waits of seconds instead of minutes.

A canary in production holds each stage for 10 to 30 minutes; the tour cannot. Its stages hold
five seconds and are judged every second; the first stage is 10 %, so that the tour's 60
requests a second give the canary enough requests to judge. The comparison with the baseline
runs at 90 % confidence, which needs three judged intervals where 98 % needs four. Short enough
for a tour, long enough that a stage is judged on a busy machine.
"""

from __future__ import annotations

from typing import Any

from bot.console.session import without_freezes

DEMO_CANARY: dict[str, Any] = {
    "stages": [
        {"percent": 10, "hold": "5s"},
        {"percent": 25, "hold": "5s"},
        {"percent": 50, "hold": "5s"},
        {"percent": 100},
    ],
    "interval": "1s",
    "max_extensions": 3,
    # The sandbox answers in a fraction of a millisecond: a canary 0.02 ms slower than its
    # baseline is 20 % slower, which is noise, not a regression.
    "rollback": {
        "min_requests": 3,
        "consecutive_failures": 2,
        "confidence": 0.9,
        "allowed_increase": 1.0,
    },
}


def demo_overrides(mapping: dict[str, Any]) -> dict[str, Any]:
    mapping = without_freezes(mapping)
    prod = mapping["environments"].get("prod")
    if isinstance(prod, dict):
        canary = prod.setdefault("canary", {})
        canary.update({k: v for k, v in DEMO_CANARY.items() if k != "rollback"})
        canary["rollback"] = {**canary.get("rollback", {}), **DEMO_CANARY["rollback"]}
    return mapping
