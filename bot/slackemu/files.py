"""Files uploaded the way Slack's external upload flow does it, in three steps.

1. ``files.getUploadURLExternal(filename, length)`` reserves a file id and an upload URL;
2. the client POSTs the bytes to that URL (raw, or as a multipart form) — no token, the URL
   is the credential, and the byte count must be the ``length`` announced in step 1;
3. ``files.completeUploadExternal(files=[{id, title}], channel_id, thread_ts, …)`` finishes
   the upload and shares it: a message carrying the file appears in the channel or thread.

A file whose bytes never arrived cannot be completed (``file_not_found``, as for an id the
workspace never issued), a completed file cannot be completed again, and a file that was
uploaded but never completed is in no channel.
"""

from __future__ import annotations

import dataclasses
import itertools

from .clock import Clock
from .errors import SlackError
from .feed import ChangeFeed
from .model import File

MAX_FILE_BYTES = 1024**3  # Slack's limit is 1 GB per file


class UploadRejected(Exception):
    """The bytes POSTed to an upload URL were refused; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class FileStore:
    def __init__(self, feed: ChangeFeed, clock: Clock):
        self._feed = feed
        self._clock = clock
        self._ids = itertools.count(1)
        self._files: dict[str, File] = {}

    def reserve(self, filename: str, length: int, user: str, alt_txt: str | None = None) -> File:
        """Step 1: a file id for ``length`` bytes called ``filename``, not uploaded yet."""
        if not 0 < length <= MAX_FILE_BYTES:
            raise SlackError("invalid_arguments", f"length must be 1..{MAX_FILE_BYTES} bytes")
        file = File(
            id=f"F{next(self._ids):010d}",
            name=filename,
            length=length,
            user=user,
            created=int(self._clock()),
            alt_txt=alt_txt or None,
        )
        self._files[file.id] = file
        return file

    def receive(self, file_id: str, content: bytes) -> File:
        """Step 2: the bytes POSTed to the upload URL. Raises UploadRejected."""
        file = self._files.get(file_id)
        if file is None:
            raise UploadRejected(404, "no upload is waiting at this URL")
        if file.content is not None:
            raise UploadRejected(409, "this upload URL was already used")
        if len(content) != file.length:
            raise UploadRejected(
                400, f"got {len(content)} bytes, files.getUploadURLExternal said {file.length}"
            )
        file = dataclasses.replace(file, content=content)
        self._files[file_id] = file
        self._feed.notify()
        return file

    def completable(self, file_id: str) -> File:
        """The uploaded, not yet completed file ``file_id``, or SlackError file_not_found."""
        file = self._files.get(file_id)
        if file is None or file.content is None or file.completed:
            state = (
                "is unknown" if file is None
                else "was already completed" if file.completed
                else "has no bytes uploaded"
            )  # fmt: skip
            raise SlackError("file_not_found", f"file {file_id} {state}")
        return file

    def complete(self, file_id: str, title: str | None) -> File:
        """Step 3: the file is finished (and may now be shared)."""
        file = self.completable(file_id)
        file = dataclasses.replace(file, completed=True, title=title or file.name)
        self._files[file_id] = file
        return file

    def shared(self, file_id: str, channel: str, ts: str) -> File:
        file = self._files[file_id]
        file = dataclasses.replace(file, shares=(*file.shares, (channel, ts)))
        self._files[file_id] = file
        return file

    def get(self, file_id: str) -> File:
        """Any file the workspace issued, in whatever step it is."""
        file = self._files.get(file_id)
        if file is None:
            raise SlackError("file_not_found", f"no file {file_id}")
        return file

    def find(self, file_id: str) -> File | None:
        return self._files.get(file_id)

    def all(self) -> list[File]:
        """Every file issued, oldest first."""
        return list(self._files.values())

    def completed(self) -> list[File]:
        return [f for f in self._files.values() if f.completed]
