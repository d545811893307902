"""The previous ``audit verify`` as a baseline, measured in the same run on the same database.

``storage/`` as it was at ``ref`` (a git commit) is unpacked into a temporary folder and a
child process with only that folder on its path opens the database and verifies it, the way
the benchmark verifies it with the code of this tree. The schema has to be one both know:
the baseline ref must be at the same migration head as this tree.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The last commit before verify read rows through the standard driver in one inlined loop.
DEFAULT_REF = "ad4f12f"

_CHILD = r"""
import asyncio, json, os, resource, sys, time
import storage

def cpu():
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime

async def main(task):
    keyring = storage.Keyring(storage.AuditKey.from_text(task["key"]))
    point = storage.Checkpoint(*task["checkpoint"])
    figures = {"plain": [], "keyed": []}
    async with storage.Store.open(task["url"]) as store:
        for _ in range(task["repeat"]):
            for label, keys, points in (("plain", None, []), ("keyed", keyring, [point])):
                wall, used = time.perf_counter(), cpu()
                result = await store.audit.verify(keyring=keys, checkpoints=points)
                took = [result.ok, result.checked, time.perf_counter() - wall, cpu() - used]
                figures[label].append(took)
    json.dump({"storage": storage.__file__, "figures": figures}, sys.stdout)

asyncio.run(main(json.load(sys.stdin)))
"""


class BaselineUnavailable(Exception):
    """Why no baseline figures could be had (said in the table instead)."""


def _unpack(ref: str, folder: Path) -> None:
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "storage"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as error:
        raise BaselineUnavailable(f"no storage/ at {ref}: {error}") from error
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")


Run = tuple[bool, int, float, float]  # ok, rows checked, wall s, cpu s


async def verify_baseline(
    ref: str, url: str, key_text: str, checkpoint: tuple[int, str, str | None], repeat: int
) -> dict[str, list[Run]]:
    """``{"plain"|"keyed": [(ok, rows checked, wall s, cpu s), …]}`` with ``storage/`` at
    ``ref``: ``repeat`` runs of each, interleaved as this tree's are."""
    with tempfile.TemporaryDirectory(prefix="audit-baseline-") as folder:
        await asyncio.to_thread(_unpack, ref, Path(folder))
        env = {**os.environ, "PYTHONPATH": folder}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-P", "-c", _CHILD, cwd=folder, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        task = {"url": url, "key": key_text, "checkpoint": list(checkpoint), "repeat": repeat}
        output, errors = await process.communicate(json.dumps(task).encode())
        if process.returncode != 0:
            last = (errors.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise BaselineUnavailable(f"the baseline at {ref} failed: {last}")
        answer = json.loads(output)
        if not str(answer["storage"]).startswith(folder + os.sep):
            raise BaselineUnavailable(f"the baseline imported {answer['storage']}, not {ref}'s")
    return {
        label: [(bool(ok), int(n), float(wall), float(cpu)) for ok, n, wall, cpu in runs]
        for label, runs in answer["figures"].items()
    }
