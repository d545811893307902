from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "fixtures" / "slack-manifest.schema.1.0.0.json"
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_validates_against_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(MANIFEST, schema)


def test_the_three_commands_with_usage_hints() -> None:
    commands = {c["command"]: c for c in MANIFEST["features"]["slash_commands"]}
    assert set(commands) == {"/deploy", "/canary", "/rollback"}
    assert all(c["usage_hint"] and c["url"].endswith("/slack/events") for c in commands.values())
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True


def test_scopes_cover_every_web_api_method_the_bot_calls() -> None:
    needed = {
        "chat_postMessage": "chat:write",
        "chat_update": "chat:write",
        "chat_postEphemeral": "chat:write",
        "chat_getPermalink": "chat:write",  # Slack asks no scope of it; any bot token may call it
        "users_info": "users:read",
        "usergroups_users_list": "usergroups:read",
        "conversations_list": "channels:read",
        "conversations_history": "channels:history",
        "files_upload_v2": "files:write",
        "files_getUploadURLExternal": "files:write",
        "files_completeUploadExternal": "files:write",
    }
    source = "\n".join(
        p.read_text() for p in (ROOT / "bot").rglob("*.py") if "slackemu" not in p.parts
    )
    used = set(
        re.findall(
            r"\.(chat_\w+|users_\w+|usergroups_\w+|conversations_\w+|views_\w+|files_\w+)\(", source
        )
    )
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    unknown = used - set(needed) - {"views_open", "views_update"}
    assert not unknown, f"add the scope for {unknown} to this test and the manifest"
    assert {needed[m] for m in used if m in needed} <= scopes
    assert "commands" in scopes
