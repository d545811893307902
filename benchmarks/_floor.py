"""The floor under serve's start-up and idle RSS: the libraries serve is built on, imported in
a fresh interpreter with none of the bot's code, the cyclic GC held as serve holds it.

What serve costs beyond this is the bot's: its own modules, the app, the database, the
clients. Where this alone is near or over a target, no work on the bot's side reaches it."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

#: What serve imports from outside the standard library by the time it is idle: the design
#: card's libraries (Bolt and slack-sdk, SQLAlchemy on aiosqlite, azure-identity with the two
#: management SDKs, httpx) and what serve runs on beside them.
LIBRARIES = (
    "slack_bolt.async_app", "slack_sdk.web.async_client", "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm", "aiosqlite", "azure.identity.aio", "azure.mgmt.web.aio",
    "azure.mgmt.trafficmanager.aio", "httpx", "aiohttp", "uvicorn", "starlette.applications",
    "pydantic", "prometheus_client", "yaml", "uvloop", "httptools",
)  # fmt: skip
_CHILD = f"""
import gc
gc.disable()
import {", ".join(LIBRARIES)}
import json, resource, time
done = time.time()
usage = resource.getrusage(resource.RUSAGE_SELF)
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS"))
print(json.dumps({{"at": done, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_kib": rss}}))
"""


@dataclass(frozen=True)
class Floor:
    wall_s: float
    cpu_s: float
    rss_mib: float


def library_floor(times: int) -> Floor:
    """The median of ``times`` fresh interpreters importing ``LIBRARIES`` (after one untimed
    import that fills the OS's page cache): wall time from the spawn to the imports' end (not
    to the exit: tearing 100 MiB of modules down takes a while), CPU and RSS then."""
    runs = []
    for n in range(times + 1):
        started = time.time()  # the child's clock: the same wall clock, in another process
        out = subprocess.run(
            [sys.executable, "-c", _CHILD], capture_output=True, text=True, check=True
        ).stdout
        if n:
            found = json.loads(out)
            runs.append(Floor(found["at"] - started, found["cpu_s"], found["rss_kib"] / 1024))
    return Floor(
        statistics.median(r.wall_s for r in runs),
        statistics.median(r.cpu_s for r in runs),
        statistics.median(r.rss_mib for r in runs),
    )
