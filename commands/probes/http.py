"""One probe request: never raises, always says what happened and how long it took."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

Timer = Callable[[], float]
HEALTHY_WORDS = frozenset({"healthy", "ok", "up", "pass", "passed", "alive", "ready"})


@dataclass(frozen=True)
class Probe:
    url: str
    response: httpx.Response | None
    error: str | None
    elapsed_ms: float

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None

    @property
    def ok_status(self) -> bool:
        return self.response is not None and self.response.is_success

    def json(self) -> dict[str, Any] | None:
        if self.response is None:
            return None
        try:
            body = self.response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def reported_status(self) -> str | None:
        """The ``status`` a health endpoint puts in its JSON body (ASP.NET: ``Healthy``)."""
        body = self.json()
        status = body.get("status") if body else None
        return str(status) if status is not None else None

    def healthy(self) -> bool:
        """2xx, and if the body names a status, a healthy one."""
        status = self.reported_status()
        return self.ok_status and (status is None or status.lower() in HEALTHY_WORDS)

    def describe(self) -> str:
        if self.error is not None:
            return self.error
        assert self.response is not None
        status = self.reported_status()
        text = f"HTTP {self.response.status_code}"
        return f"{text}, {status}" if status else text


async def probe(http: httpx.AsyncClient, url: str, *, timeout_s: float, timer: Timer) -> Probe:
    started = timer()
    try:
        response = await http.get(url, timeout=timeout_s)
    except httpx.TimeoutException:
        return Probe(url, None, f"no answer within {timeout_s:g} s", _ms(timer, started))
    except httpx.HTTPError as exc:
        return Probe(url, None, _network_error(exc), _ms(timer, started))
    except httpx.InvalidURL as exc:
        return Probe(url, None, f"invalid URL: {exc}", _ms(timer, started))
    return Probe(url, response, None, _ms(timer, started))


def _ms(timer: Timer, started: float) -> float:
    return (timer() - started) * 1000.0


def _network_error(exc: httpx.HTTPError | httpx.InvalidURL) -> str:
    kinds: dict[type[Exception], str] = {
        httpx.ConnectError: "could not connect",
        httpx.RemoteProtocolError: "the connection broke",
        httpx.ReadError: "the connection broke",
    }
    kind = kinds.get(type(exc), type(exc).__name__)
    detail = str(exc).strip()
    return f"{kind}: {detail}" if detail else kind


def default_timer() -> float:
    return time.perf_counter()
