"""A person in the workspace: sends the app signed requests exactly as Slack would.

Over the app's Request URL, or as Socket Mode envelopes when the emulator has an app-level
token and no Request URL.

``alice = emu.user("alice")`` then ``await alice.command("/deploy prod v1.2.0",
channel="#deploys")``, ``await alice.click(card, "Approve")``, ``await alice.submit_view(...)``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .blockkit import ButtonRef, find_button
from .clock import Clock, system_clock, ts_key
from .errors import ButtonNotFound, ConfirmationRequired, SlackError, UsageError
from .interactions import ResponseTarget
from .model import Ephemeral, JsonDict, Message, User, View
from .payloads import block_actions_payload, slash_command_form, view_submission_payload
from .response_url import apply_message_payload
from .socket_mode import deliver_envelope
from .transport import Delivery, DeliveryKind, SendOptions, deliver, slack_headers
from .view_response import apply_view_response

if TYPE_CHECKING:
    from .server import SlackEmulator

__all__ = ["Delivery", "SendOptions", "SlackUserAgent"]


class SlackUserAgent:
    def __init__(
        self,
        emulator: SlackEmulator,
        user: str,
        *,
        clock: Clock = system_clock,
        ack_timeout: float = 3.0,
    ):
        self.emulator = emulator
        self.ws = emulator.workspace
        self.user: User = self.ws.user(user)
        self._clock = clock
        self.ack_timeout = ack_timeout

    # -- slash commands ------------------------------------------------------------------
    async def command(
        self,
        command: str,
        text: str | None = None,
        *,
        channel: str,
        options: SendOptions | None = None,
    ) -> Delivery:
        """``command("/deploy", "prod v1")`` or ``command("/deploy prod v1")``.

        The app's immediate answer is shown as Slack would: ephemeral to this user unless
        ``response_type: in_channel``; a failed or slow answer shows Slack's error ephemeral.
        """
        if text is None:
            command, _, text = command.strip().partition(" ")
        if not command.startswith("/") or " " in command:
            raise UsageError(f"{command!r} is not a slash command")
        where = self.ws.directory.resolve_post_target(channel)
        target = self.emulator.interactions.new_target("command", self.user.id, where.id)
        trigger_id = self.emulator.interactions.issue_trigger(self.user.id, where.id)
        form = slash_command_form(
            self.ws,
            user=self.user,
            channel=where,
            command=command,
            text=text.strip(),
            response_url=self.emulator.response_url(target),
            trigger_id=trigger_id,
            token=self.emulator.verification_token,
        )
        delivery = await self._send("command", urlencode(form), form, options, target, trigger_id)
        self._show_command_answer(delivery, target, command)
        return delivery

    def _show_command_answer(
        self, delivery: Delivery, target: ResponseTarget, command: str
    ) -> None:
        if delivery.status == 200 and delivery.body.strip():
            try:
                answer = delivery.json()
            except json.JSONDecodeError:
                answer = {"text": delivery.body}
            if not isinstance(answer, dict):
                answer = {"text": delivery.body}
            status, error = apply_message_payload(
                self.ws, target, answer, source="command_response"
            )
            if status == 200:
                return
        elif delivery.status == 200:
            return
        else:
            error = "operation_timeout" if delivery.timed_out else "dispatch_failed"
        assert target.channel is not None
        self.ws.post_ephemeral(
            target.channel,
            self.user.id,
            f'{command} failed with the error "{error}"',
            source="slack",
        )

    # -- buttons -------------------------------------------------------------------------
    async def click(
        self,
        message: Message | Ephemeral,
        button: str | int,
        *,
        confirm: bool = False,
        stale_ok: bool = False,
        options: SendOptions | None = None,
    ) -> Delivery:
        """Click a button (label, action_id or number) on the message as it is now.

        With ``stale_ok`` a button that has since disappeared is clicked on the given
        snapshot, as a client that has not refreshed yet would. A button with a ``confirm``
        dialog raises ConfirmationRequired unless ``confirm=True``.
        """
        shown, ref = self._locate(message, button, stale_ok=stale_ok)
        if ref.confirm is not None and not confirm:
            raise ConfirmationRequired(ref.label, ref.confirm)
        interactions = self.emulator.interactions
        is_ephemeral = isinstance(shown, Ephemeral)
        thread_ts = shown.thread_ts if shown.thread_ts and shown.thread_ts != shown.ts else None
        target = interactions.new_target(
            "block_actions",
            self.user.id,
            shown.channel,
            original_ts=None if is_ephemeral else shown.ts,
            original_ephemeral=shown if isinstance(shown, Ephemeral) else None,
            thread_ts=thread_ts,
        )
        trigger_id = interactions.issue_trigger(self.user.id, shown.channel)
        payload = block_actions_payload(
            self.ws,
            user=self.user,
            message=shown,
            button=ref,
            response_url=self.emulator.response_url(target),
            trigger_id=trigger_id,
            token=self.emulator.verification_token,
        )
        body = urlencode({"payload": json.dumps(payload)})
        return await self._send("block_actions", body, payload, options, target, trigger_id)

    async def click_latest(
        self,
        channel: str,
        button: str | int,
        *,
        thread_ts: str | None = None,
        confirm: bool = False,
        options: SendOptions | None = None,
    ) -> Delivery:
        """Click the button on the newest message (or own ephemeral) in the channel/thread."""
        candidates: list[Message | Ephemeral] = []
        if thread_ts:
            candidates += self.ws.thread(channel, thread_ts)
        else:
            candidates += self.ws.messages(channel)
        candidates += [
            e for e in self.ws.ephemerals(self.user.id, channel) if e.thread_ts == thread_ts
        ]
        for message in sorted(candidates, key=lambda m: ts_key(m.ts), reverse=True):
            try:
                find_button(message.blocks, button)
            except ButtonNotFound:
                continue
            return await self.click(message, button, confirm=confirm, options=options)
        raise ButtonNotFound(f"no message in {channel} has a button {button!r}")

    def _locate(
        self, message: Message | Ephemeral, button: str | int, *, stale_ok: bool
    ) -> tuple[Message | Ephemeral, ButtonRef]:
        current: Message | Ephemeral | None
        if isinstance(message, Ephemeral):
            if message.user != self.user.id:
                raise UsageError(
                    f"{self.user.name} cannot see an ephemeral meant for {message.user}"
                )
            current = self.ws.ephemeral_store.find(message.channel, message.user, message.ts)
        else:
            current = self.ws.find_message(message.channel, message.ts)
        if current is None and not stale_ok:
            raise UsageError(f"message {message.ts} in {message.channel} is gone")
        try:
            if current is not None:
                return current, find_button(current.blocks, button)
        except ButtonNotFound:
            if not stale_ok:
                raise
        return message, find_button(message.blocks, button)

    # -- modals --------------------------------------------------------------------------
    async def submit_view(
        self,
        view: View | str | None = None,
        values: Mapping[str, Any] | None = None,
        *,
        options: SendOptions | None = None,
    ) -> Delivery:
        """Submit a modal (default: the one this user sees) with input values by action_id."""
        shown = self._open_view(view)
        trigger_id = self.emulator.interactions.issue_trigger(self.user.id, None)
        payload = view_submission_payload(
            self.ws,
            user=self.user,
            view=shown,
            values=values or {},
            trigger_id=trigger_id,
            token=self.emulator.verification_token,
        )
        body = urlencode({"payload": json.dumps(payload)})
        delivery = await self._send("view_submission", body, payload, options, None, trigger_id)
        after = apply_view_response(self.ws, shown, delivery.status, delivery.body)
        return _with_view(delivery, after)

    def _open_view(self, view: View | str | None) -> View:
        if view is None:
            top = self.ws.views.top(self.user.id)
            if top is None:
                raise UsageError(f"{self.user.name} has no modal open")
            return top
        try:
            current = self.ws.views.get(view if isinstance(view, str) else view.id)
        except SlackError:
            raise UsageError(f"no view {view!r}") from None
        if not current.is_open or current.user != self.user.id:
            raise UsageError(f"view {current.id} is not open for {self.user.name}")
        return current

    # -- raw sending ---------------------------------------------------------------------
    async def resend(
        self, delivery: Delivery, *, retry_num: int = 1, reason: str = "http_timeout"
    ) -> Delivery:
        """Slack's retry of the same request: same body, fresh signature, retry headers."""
        options = SendOptions(retry_num=retry_num, retry_reason=reason)
        return await self._send(
            delivery.kind, delivery.request_body, delivery.payload, options,
            delivery.target, delivery.trigger_id,
        )  # fmt: skip

    async def send_raw(self, body: str, *, options: SendOptions | None = None) -> Delivery:
        """Any form body, signed (or not) as the options say."""
        return await self._send("raw", body, {}, options, None, None)

    async def _send(
        self,
        kind: DeliveryKind,
        body: str,
        payload: JsonDict,
        options: SendOptions | None,
        target: ResponseTarget | None,
        trigger_id: str | None,
    ) -> Delivery:
        url = self.emulator.request_url
        opts = options or SendOptions()
        if not url and self.emulator.socket_mode.enabled:
            return await deliver_envelope(
                self.emulator.socket_mode, kind=kind, payload=payload, options=opts,
                ack_timeout=self.ack_timeout, trigger_id=trigger_id, target=target,
                response_url=self.emulator.response_url(target) if target else None,
            )  # fmt: skip
        if not url:
            raise UsageError("the emulator has no request URL: call emu.connect_app(url) first")
        timestamp = opts.timestamp if opts.timestamp is not None else int(self._clock())
        return await deliver(
            self.emulator.http,
            url,
            kind=kind,
            body=body,
            payload=payload,
            headers=slack_headers(self.emulator.signing_secret, timestamp, body, opts),
            ack_timeout=self.ack_timeout,
            response_url=self.emulator.response_url(target) if target else None,
            trigger_id=trigger_id,
            target=target,
        )


def _with_view(delivery: Delivery, view: View | None) -> Delivery:
    return dataclasses.replace(delivery, view=view)
