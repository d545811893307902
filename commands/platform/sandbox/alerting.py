"""The sandbox's own monitoring, for machines without Prometheus and Alertmanager: it watches
each environment's 5xx share and posts what Alertmanager would (a webhook ``version: "4"``
payload with ``Authorization: Bearer <token>``) to the bot's ``/alerts/alertmanager``.

The rule is the drill's Prometheus rule, ``sum by (env) (rate(5xx[10s])) / sum by (env)
(rate(all[10s])) > 0.05``, over what every host of the environment answered (``Unit.served``,
which never resets). Alertmanager's grouping is ``[alertname, env]``: one group per
environment, one firing per episode, a resolved message when the share falls back.
Off until ``send_to`` (``POST /admin/alerting {"url": …, "token": …}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp

from commands.platform.sandbox.errors import SandboxError
from commands.platform.sandbox.resources import Unit
from commands.platform.sandbox.world import World

log = logging.getLogger(__name__)
ALERT = "Http5xxRateHigh"
NEVER = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of an alert still firing
Clock = Callable[[], datetime]
UnitsByEnvironment = Callable[[], Mapping[str, list[Unit]]]


@dataclass
class Episode:
    """One environment's rule: the samples of its window, and the alert it fired."""

    samples: deque[tuple[float, int, int]] = field(default_factory=deque)
    firing_since: datetime | None = None
    share: float = 0.0
    requests: int = 0
    unsent: dict[str, Any] | None = None  # a payload whose POST failed: sent again next tick


class AlertSender:
    def __init__(
        self,
        units: UnitsByEnvironment,
        clock: Clock,
        *,
        threshold: float = 0.05,
        window_s: float = 10.0,
        interval_s: float = 1.0,
        min_requests: int = 10,
        external_url: str = "",
    ) -> None:
        self._units = units
        self._clock = clock
        self.threshold = threshold
        self.window_s = window_s
        self.interval_s = interval_s
        self.min_requests = min_requests
        self.external_url = external_url
        self.url: str | None = None
        self._token = ""
        self._episodes: dict[str, Episode] = {}
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self.sent: list[dict[str, Any]] = []
        """Every payload the bot answered 2xx to, oldest first."""
        self.last_error: str | None = None

    # -- switching it on and off -------------------------------------------------------------
    def send_to(self, url: str, token: str = "", threshold: float | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise SandboxError(f"url must be an http(s) URL, got {url!r}")
        if not isinstance(token, str) or not token:
            raise SandboxError("token must be the bot's DEPLOYBOT_ALERT_TOKEN")
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, int | float):
                raise SandboxError(f"threshold must be a number, got {threshold!r}")
            if not 0 < threshold < 1:
                raise SandboxError(f"threshold must be between 0 and 1, got {threshold!r}")
            self.threshold = float(threshold)
        self.url, self._token = url, token
        self._episodes.clear()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="alerting")

    async def stop_sending(self) -> None:
        self.url = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.close()
            self._http = None

    aclose = stop_sending

    def snapshot(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "threshold": self.threshold,
            "window_s": self.window_s,
            "environments": {
                name: {
                    "firing": e.firing_since is not None,
                    "share": round(e.share, 4),
                    "requests": e.requests,
                }
                for name, e in self._episodes.items()
            },
            "sent": len(self.sent),
            "last_error": self.last_error,
        }

    # -- the rule ----------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.url is not None:
            for name, units in self._units().items():
                await self._evaluate(name, units, loop.time())
            await asyncio.sleep(self.interval_s)

    async def _evaluate(self, name: str, units: list[Unit], now_s: float) -> None:
        episode = self._episodes.setdefault(name, Episode())
        total = sum(u.served["total"] for u in units)
        errors = sum(u.served["5xx"] for u in units)
        episode.samples.append((now_s, total, errors))
        while episode.samples and episode.samples[0][0] < now_s - self.window_s:
            episode.samples.popleft()
        _, first_total, first_errors = episode.samples[0]
        episode.requests = total - first_total
        episode.share = (errors - first_errors) / episode.requests if episode.requests else 0.0
        above = episode.requests >= self.min_requests and episode.share > self.threshold
        if above and episode.firing_since is None:
            episode.firing_since = self._clock()
            episode.unsent = self._payload(name, episode, resolved=False)
        elif not above and episode.firing_since is not None and episode.requests:
            episode.unsent = self._payload(name, episode, resolved=True)
            episode.firing_since = None
        if episode.unsent is not None and await self._post(episode.unsent):
            episode.unsent = None

    def _payload(self, env: str, episode: Episode, *, resolved: bool) -> dict[str, Any]:
        assert episode.firing_since is not None
        status = "resolved" if resolved else "firing"
        labels = {"alertname": ALERT, "env": env, "severity": "critical"}
        annotations = {
            "summary": f"5xx rate above {self.threshold:.0%} on {env}",
            "description": f"{episode.share:.0%} of {episode.requests} requests answered 5xx "
            f"in the last {self.window_s:g} s",
        }
        alert = {
            "status": status,
            "labels": labels,
            "annotations": annotations,
            "startsAt": _stamp(episode.firing_since),
            "endsAt": _stamp(self._clock()) if resolved else NEVER,
            "generatorURL": f"{self.external_url}/admin/alerting",
            "fingerprint": hashlib.sha256(f"{ALERT}\0{env}".encode()).hexdigest()[:16],
        }
        group = {"alertname": ALERT, "env": env}
        return {
            "receiver": "deploybot",
            "status": status,
            "alerts": [alert],
            "groupLabels": group,
            "commonLabels": labels,
            "commonAnnotations": annotations,
            "externalURL": self.external_url,
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{ALERT}", env="{env}"}}',
            "truncatedAlerts": 0,
        }

    async def _post(self, payload: dict[str, Any]) -> bool:
        if self.url is None:
            return False
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        headers = {"Authorization": f"Bearer {self._token}", "User-Agent": "Alertmanager/sandbox"}
        try:
            async with self._http.post(self.url, json=payload, headers=headers) as answer:
                if answer.status // 100 == 2:
                    self.sent.append(payload)
                    return True
                self.last_error = f"HTTP {answer.status}: {(await answer.text())[:200]}"
        except (aiohttp.ClientError, TimeoutError) as error:
            self.last_error = f"{type(error).__name__}: {error}"
            log.warning("could not post an alert to %s: %s", self.url, self.last_error)
            return False  # the bot may be restarting: sent again next tick
        # As Alertmanager does, a 4xx is not sent again: the same payload would fail the same.
        log.warning("the bot refused an alert: %s", self.last_error)
        return answer.status < 500


def units_by_environment(world: World, mapping: Mapping[str, Any]) -> dict[str, list[Unit]]:
    """Every host of each configured environment: its apps, or its site's slots."""
    found: dict[str, list[Unit]] = {}
    for name, env in (mapping.get("environments") or {}).items():
        azure = env.get("azure") or {}
        if env.get("topology") == "traffic-manager":
            apps = [world.app(str(app)) for app in (azure.get("apps") or {}).values()]
            found[name] = [site.production for site in apps if site is not None]
        else:
            site = world.app(str(azure.get("app", "")))
            found[name] = list(site.units()) if site is not None else []
    return found


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
