"""A user's deploybot.yml on the local sandbox: their policies, the sandbox's resources.

A user's file names real Azure resources and hosts; the console must reach the sandbox instead.
Each environment the sandbox also has keeps everything the user decided (roles, approvals,
freezes, health thresholds, canary stages, hooks…) and takes from the sandbox only where it
runs: the Azure coordinates, the hosts, the artifact template and the metrics source.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

# Where an environment runs, as opposed to how it may be changed: taken from the sandbox.
WHERE = ("topology", "azure", "artifact", "urls")


class Overlaid(NamedTuple):
    config: dict[str, Any]
    warnings: list[str]


def on_sandbox(user: dict[str, Any], sandbox: dict[str, Any]) -> Overlaid:
    """``user`` re-pointed at ``sandbox`` (both config mappings, as loaded from YAML).

    Environments are matched by name; the user's environments the sandbox lacks are left
    out, and so are freezes that covered only those. Neither argument is modified."""
    result = copy.deepcopy(user)
    local_envs: dict[str, Any] = sandbox.get("environments") or {}
    kept: dict[str, Any] = {}
    left_out: set[str] = set()
    warnings: list[str] = []
    for name, env in (result.get("environments") or {}).items():
        local = local_envs.get(name)
        if not isinstance(env, dict) or not isinstance(local, dict):
            aliases = env.get("aliases") if isinstance(env, dict) else None
            left_out.update([name, *(aliases or [])])
            warnings.append(
                f"environment {name}: the sandbox has no such environment, so it is left out "
                f"(the sandbox has {', '.join(local_envs) or 'none'})"
            )
            continue
        kept[name] = _repointed(name, env, local, warnings)
    result["environments"] = kept
    if result.get("freezes"):
        result["freezes"] = _freezes(result["freezes"], left_out, warnings)
    return Overlaid(result, warnings)


def _repointed(
    name: str, env: dict[str, Any], local: dict[str, Any], warnings: list[str]
) -> dict[str, Any]:
    if "topology" in env and env["topology"] != local.get("topology"):
        warnings.append(
            f"environment {name}: the sandbox runs it as {local.get('topology')}, "
            f"not {env['topology']}"
        )
    for key in WHERE:
        if key in local:
            env[key] = copy.deepcopy(local[key])
        else:
            env.pop(key, None)  # the user's value names a real host; the default derives locally
    canary = env.get("canary")
    if isinstance(canary, dict):
        local_metrics = (local.get("canary") or {}).get("metrics")
        if local_metrics is not None:
            canary["metrics"] = copy.deepcopy(local_metrics)
        else:
            canary.pop("metrics", None)  # azure-monitor, which the sandbox answers
    hooks = env.get("hooks")
    if isinstance(hooks, dict) and any(hooks.values()):
        warnings.append(
            f"environment {name}: its hooks ({', '.join(k for k, v in hooks.items() if v)}) "
            "still call your own URLs"
        )
    return env


def _freezes(freezes: Any, left_out: set[str], warnings: list[str]) -> Any:
    if not isinstance(freezes, list):
        return freezes
    kept = []
    for freeze in freezes:
        names = freeze.get("environments") if isinstance(freeze, dict) else None
        if not names:  # malformed, or covering all environments: as the user wrote it
            kept.append(freeze)
            continue
        remaining = [n for n in names if n not in left_out]
        if not remaining:  # an empty list would mean "every environment"
            warnings.append(
                f"freeze {freeze.get('name')}: it covers only environments left out, "
                "so it is left out too"
            )
            continue
        kept.append({**freeze, "environments": remaining})
    return kept
