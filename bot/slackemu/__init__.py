"""A Slack workspace emulator: Web API server, signed user requests, terminal rendering.

It is what ``deploybot console``, ``deploybot demo`` and the tests run the real bot against.
"""

from __future__ import annotations

from .actor import Delivery, SendOptions, SlackUserAgent
from .blockkit import ButtonRef, find_button, list_buttons
from .clock import Clock, ManualClock, TsFactory, system_clock
from .errors import (
    ButtonNotFound,
    ConfirmationRequired,
    EmulatorError,
    SlackError,
    UsageError,
    WaitTimeout,
)
from .model import (
    ApiCall,
    Change,
    Channel,
    Ephemeral,
    File,
    Message,
    MessageVersion,
    ResponsePost,
    User,
    UserGroup,
    View,
)
from .screen import render_screen, visible_to
from .seed import reference_workspace
from .server import SlackEmulator
from .signing import signature, signed_headers
from .text import Clickable, Rendered, mrkdwn_to_plain, render_conversation, render_message
from .workspace import Workspace

__all__ = [
    "ApiCall",
    "ButtonNotFound",
    "ButtonRef",
    "Change",
    "Channel",
    "Clickable",
    "Clock",
    "ConfirmationRequired",
    "Delivery",
    "EmulatorError",
    "Ephemeral",
    "File",
    "ManualClock",
    "Message",
    "MessageVersion",
    "Rendered",
    "ResponsePost",
    "SendOptions",
    "SlackEmulator",
    "SlackError",
    "SlackUserAgent",
    "TsFactory",
    "UsageError",
    "User",
    "UserGroup",
    "View",
    "WaitTimeout",
    "Workspace",
    "find_button",
    "list_buttons",
    "mrkdwn_to_plain",
    "reference_workspace",
    "render_conversation",
    "render_message",
    "render_screen",
    "signature",
    "signed_headers",
    "system_clock",
    "visible_to",
]
