"""A webhook body (bytes) to an ``AlertBatch``, by source; every failure is ``MalformedAlert``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from commands.incidents import alertmanager, azure_monitor, grafana
from commands.incidents.alerts import AlertBatch, MalformedAlert, Source

PARSERS: dict[Source, Callable[[Any], AlertBatch]] = {
    "alertmanager": alertmanager.parse,
    "azure-monitor": azure_monitor.parse,
    "grafana": grafana.parse,
}


def parse_body(source: Source, body: bytes) -> AlertBatch:
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise MalformedAlert("body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise MalformedAlert("body is not JSON") from None
    try:
        return PARSERS[source](data)
    except MalformedAlert:
        raise
    except (
        TypeError,
        ValueError,
        KeyError,
        AttributeError,
        OverflowError,
        RecursionError,
    ) as error:
        # A shape no check above foresaw: still the sender's mistake, never a 500.
        raise MalformedAlert(f"unexpected payload shape ({type(error).__name__})") from None
