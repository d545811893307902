"""The checklist lines a card shows for each step name."""

from __future__ import annotations

from storage import Deployment


def step_label(name: str, deployment: Deployment) -> str:
    target = str(deployment.context.get("target") or "the idle target")
    live = str(deployment.context.get("live") or "the live target")
    version = deployment.version
    labels = {
        "precheck": "Pre-checks (artifact, health, lock, freeze)",
        "deploy": f"Put {version} on {target}",
        "restart": f"Restart {target}",
        "wait_version": f"Wait for {target} to report {version}",
        "health_gate": f"Health checks on {target}",
        "pre_switch_hook": "Pre-switch hook",
        "switch": f"Switch traffic {live} → {target}",
        "verify": "Verify production",
        "post_switch_hook": "Post-switch hook",
        "watch": "Watch production",
        "rollback": f"Roll back to {deployment.context.get('previous_version') or 'the old one'}",
    }
    return labels.get(name, name.replace("_", " ").capitalize())
