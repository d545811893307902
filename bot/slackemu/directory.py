"""Who and where: the users, user groups and channels of the emulated workspace."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import SlackError, UsageError
from .model import Channel, User, UserGroup


class Directory:
    def __init__(self) -> None:
        self._users: dict[str, User] = {}
        self._groups: dict[str, UserGroup] = {}
        self._channels: dict[str, Channel] = {}

    # -- adding --------------------------------------------------------------------------
    def add_user(self, user: User) -> User:
        self._check_new_id(user.id, self._users)
        if any(u.name == user.name for u in self._users.values()):
            raise UsageError(f"a user named {user.name!r} already exists")
        self._users[user.id] = user
        return user

    def add_usergroup(self, group: UserGroup) -> UserGroup:
        self._check_new_id(group.id, self._groups)
        for member in group.users:
            if member not in self._users:
                raise UsageError(f"user group {group.handle!r}: unknown member {member!r}")
        self._groups[group.id] = group
        return group

    def add_channel(self, channel: Channel) -> Channel:
        self._check_new_id(channel.id, self._channels)
        if not channel.is_im and self.find_channel("#" + channel.name) is not None:
            raise UsageError(f"a channel named #{channel.name} already exists")
        self._channels[channel.id] = channel
        return channel

    def im_with(self, user_id: str) -> Channel:
        """The bot's direct-message channel with a user, created on first use like Slack."""
        self.user(user_id)
        for channel in self._channels.values():
            if channel.is_im and channel.im_user == user_id:
                return channel
        return self.add_channel(
            Channel(id="D" + user_id[1:], name=user_id, is_im=True, im_user=user_id)
        )

    # -- reading -------------------------------------------------------------------------
    @property
    def users(self) -> list[User]:
        return list(self._users.values())

    @property
    def usergroups(self) -> list[UserGroup]:
        return list(self._groups.values())

    @property
    def channels(self) -> list[Channel]:
        return list(self._channels.values())

    def find_user(self, ref: str) -> User | None:
        """By ID (``U0ALICE``), by name (``alice``) or by mention (``@alice``, ``<@U0ALICE>``)."""
        ref = ref.strip()
        if ref.startswith("<@") and ref.endswith(">"):
            ref = ref[2:-1].split("|", 1)[0]
        if ref in self._users:
            return self._users[ref]
        name = ref.removeprefix("@")
        return next((u for u in self._users.values() if u.name == name), None)

    def user(self, ref: str) -> User:
        found = self.find_user(ref)
        if found is None:
            known = ", ".join(f"{u.name} ({u.id})" for u in self._users.values())
            raise SlackError("user_not_found", f"no user {ref!r}; known: {known}")
        return found

    def find_usergroup(self, ref: str) -> UserGroup | None:
        if ref in self._groups:
            return self._groups[ref]
        handle = ref.removeprefix("@")
        return next((g for g in self._groups.values() if g.handle == handle), None)

    def usergroup(self, ref: str) -> UserGroup:
        found = self.find_usergroup(ref)
        if found is None:
            raise SlackError("no_such_subteam", f"no user group {ref!r}")
        return found

    def find_channel(self, ref: str) -> Channel | None:
        """By ID (``C0DEPLOYS``), ``#name`` or bare name, like chat.postMessage accepts."""
        ref = ref.strip()
        if ref in self._channels:
            return self._channels[ref]
        name = ref.removeprefix("#")
        return next(
            (c for c in self._channels.values() if not c.is_im and c.name == name),
            None,
        )

    def channel(self, ref: str) -> Channel:
        found = self.find_channel(ref)
        if found is None:
            known = ", ".join(f"#{c.name} ({c.id})" for c in self._channels.values() if not c.is_im)
            raise SlackError("channel_not_found", f"no channel {ref!r}; known: {known}")
        return found

    def resolve_post_target(self, ref: str) -> Channel:
        """chat.postMessage also takes a user ID, meaning the DM with that user."""
        channel = self.find_channel(ref)
        if channel is not None:
            return channel
        user = self.find_user(ref) if ref.startswith(("U", "W")) else None
        if user is not None:
            return self.im_with(user.id)
        return self.channel(ref)

    @staticmethod
    def _check_new_id(item_id: str, existing: Mapping[str, object]) -> None:
        if not item_id or not item_id.isalnum() or not item_id.isupper():
            raise UsageError(f"{item_id!r} is not a Slack-style ID (upper-case letters and digits)")
        if item_id in existing:
            raise UsageError(f"ID {item_id!r} is already taken")
