"""The artifact store: ``/artifacts/<folder>/<version>.zip`` answers 200 unless marked missing."""

from __future__ import annotations

import io
import json
import zipfile

from aiohttp import web

from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.resources import package_version

PREFIX = "/artifacts/"


def package_bytes(version: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("version.txt", version + "\n")
        archive.writestr("appsettings.json", json.dumps({"AppVersion": version}))
    return buffer.getvalue()


class ArtifactStore:
    def __init__(self, faults: Faults) -> None:
        self._faults = faults

    async def handle(self, request: web.BaseRequest) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            return web.json_response({"error": "the artifact store is read-only"}, status=405)
        name = request.path[len(PREFIX) :]
        version = package_version(name) if name else ""
        if not version or self._faults.for_version(version).missing_artifact:
            return web.json_response({"error": f"no artifact {name!r}"}, status=404)
        body = package_bytes(version)
        return web.Response(
            body=body if request.method == "GET" else None,
            headers={
                "Content-Type": "application/zip",
                "Content-Length": str(len(body)),
                "ETag": f'"{version}"',
            },
        )
