"""The bot's own packaging, checked as text: no Docker engine, `bicep` or `az` runs on these
machines (where a Docker engine runs, ``test_image_builds_and_answers_help`` builds the image).

The Dockerfile: a slim Python base, a non-root user, a HEALTHCHECK that fetches /healthz on the
port `deploybot serve` listens on, `deploybot serve` as what the image runs, and every file it
copies present and not excluded by .dockerignore. The Bicep files: the web app with a
system-assigned identity, Slack/database/audit secrets only as Key Vault references, and role
assignments with exactly the built-in roles the README names, each at the narrowest scope.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.settings import Runtime
from commands.job_leases import DEFAULT_LEASE

ROOT = Path(__file__).resolve().parents[1]
AZURE = ROOT / "deploy" / "azure"

WEBSITE_CONTRIBUTOR = "de139f84-1756-47ae-9be6-808fbbe84772"
MONITORING_READER = "43d0d8ad-25c7-4714-9337-8ba259a9fe05"
TRAFFIC_MANAGER_CONTRIBUTOR = "a4b10055-b0c7-44c2-b00f-c7b5b3550cf7"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    return steps[starts[-1] :]


def args_of(steps: list[tuple[str, str]]) -> dict[str, str]:
    found = {}
    for word, rest in steps:
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            found[name] = value
    return found


@pytest.fixture(scope="module")
def docker() -> list[tuple[str, str]]:
    return instructions((ROOT / "Dockerfile").read_text())


def test_the_image_is_slim_python_and_runs_as_a_non_root_user(
    docker: list[tuple[str, str]],
) -> None:
    base = args_of(docker)["PYTHON"]
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base
    assert all(rest.split()[0] == "${PYTHON}" for word, rest in docker if word == "FROM")
    final = final_stage(docker)
    users = [rest for word, rest in final if word == "USER"]
    assert users, "the final stage sets no USER: the bot would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    created = " ".join(rest for word, rest in final if word == "RUN")
    assert f"useradd --system --uid 10001 --gid {user}" in created


def test_the_healthcheck_fetches_healthz_where_serve_listens(
    docker: list[tuple[str, str]],
) -> None:
    final = final_stage(docker)
    (check,) = [rest for word, rest in final if word == "HEALTHCHECK"]
    command = json.loads(check[check.index("CMD") + 3 :].strip())  # the exec form
    entrypoint = json.loads(next(rest for word, rest in final if word == "ENTRYPOINT"))
    cmd = json.loads(next(rest for word, rest in final if word == "CMD"))
    assert entrypoint == ["deploybot"]
    assert cmd[0] == "serve"
    port = cmd[cmd.index("--port") + 1]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"  # reachable from outside the container
    assert command[0] == "python"  # the slim image has no curl
    assert f"http://127.0.0.1:{port}/healthz" in command[-1]
    assert ("EXPOSE", port) in final


def test_everything_the_image_copies_exists_and_is_not_ignored(
    docker: list[tuple[str, str]],
) -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    defaults = args_of(docker)
    for word, rest in docker:
        if word != "COPY" or rest.startswith("--from"):
            continue
        *sources, _target = rest.split()
        for source in sources:
            source = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], source)
            assert (ROOT / source).exists(), source
            assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    assert {"tests", ".git", ".venv", "*.db"} <= set(ignored)


def test_the_console_is_documented_as_the_other_entry_point() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "docker run -it deploybot console" in dockerfile
    assert "## Running on Azure" in readme
    assert "console" in readme.split("## Running on Azure")[1].split("\n## ")[0]


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0,
    reason="no Docker engine here (the docker client alone cannot build)",
)
def test_image_builds_and_answers_help() -> None:
    subprocess.run(["docker", "build", "-t", "deploybot:test", str(ROOT)], check=True)
    shown = subprocess.run(
        ["docker", "run", "--rm", "deploybot:test", "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "usage: deploybot" in shown.stdout


# -- Bicep -------------------------------------------------------------------------------------
def bicep(name: str) -> str:
    """The file without its // comments (role ids in comments must not count)."""
    text = (AZURE / name).read_text()
    return "\n".join(re.sub(r"(^|\s)//.*$", "", line) for line in text.splitlines())


def resources(text: str) -> dict[str, str]:
    """symbolic name -> 'Type@version' for every resource (and `existing` reference)."""
    return dict(re.findall(r"^resource (\w+) '([\w./]+@[\w-]+)'", text, flags=re.MULTILINE))


def role_ids(text: str) -> set[str]:
    return set(
        re.findall(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'", text)
    )


def test_the_web_app_runs_the_image_with_a_system_assigned_identity() -> None:
    main = bicep("main.bicep")
    found = resources(main)
    assert found["plan"].startswith("Microsoft.Web/serverfarms@")
    assert found["site"].startswith("Microsoft.Web/sites@")
    assert "kind: 'app,linux,container'" in main
    assert "type: 'SystemAssigned'" in main
    assert "linuxFxVersion: 'DOCKER|${registry.properties.loginServer}/${image}'" in main
    assert "healthCheckPath: '/healthz'" in main
    assert "{ name: 'WEBSITES_PORT', value: '8080' }" in main  # the Dockerfile's port
    assert "acrUseManagedIdentityCreds: true" in main


def test_secrets_are_key_vault_references_only() -> None:
    main = bicep("main.bicep")
    settings = dict(re.findall(r"\{ name: '(\w+)', value: '([^']*)' \}", main))
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DEPLOYBOT_DATABASE_URL",
                 "DEPLOYBOT_AUDIT_KEY"):  # fmt: skip
        assert settings[name].startswith("@Microsoft.KeyVault(${vaultRef}"), name
    assert "var vaultRef = 'VaultName=${keyVaultName};SecretName='" in main
    assert "@secure()" not in main  # no secret passes through the deployment's parameters
    example = json.loads((AZURE / "main.parameters.example.json").read_text())["parameters"]
    assert not any(re.search(r"xox|secret|password", json.dumps(v)) for v in example.values())


def test_the_job_lease_is_a_plain_setting_beside_the_database_url() -> None:
    """Replicas share the PostgreSQL URL and agree on one lease: the template sets both."""
    main = bicep("main.bicep")
    [default] = re.findall(r"^param jobLease string = '([^']+)'$", main, flags=re.MULTILINE)
    assert default == "10s"
    assert Runtime.from_environ({"DEPLOYBOT_JOB_LEASE": default}).job_lease_time() == DEFAULT_LEASE
    settings = re.findall(r"\{ name: '(\w+)', value: (.+) \}\s*$", main, flags=re.MULTILINE)
    assert ("DEPLOYBOT_JOB_LEASE", "jobLease") in settings
    assert "DEPLOYBOT_DATABASE_URL" in dict(settings)
    assert (
        "jobLease"
        not in json.loads((AZURE / "main.parameters.example.json").read_text())["parameters"]
    )  # the default is the bot's own; a team changes it only with a reason


def test_roles_are_exactly_the_ones_named_at_the_narrowest_scope() -> None:
    main = bicep("main.bicep")
    app = bicep("app-resource-group-roles.bicep")
    tm = bicep("traffic-manager-role.bicep")
    assert role_ids(main) == {ACR_PULL, KEY_VAULT_SECRETS_USER}
    assert role_ids(app) == {WEBSITE_CONTRIBUTOR, MONITORING_READER}
    assert role_ids(tm) == {TRAFFIC_MANAGER_CONTRIBUTOR}
    for text in (main, app, tm):
        assert not role_ids(text) & set(BROAD_ROLES)
        assert "targetScope = 'resourceGroup'" in text  # never subscription-wide
    # main: on the registry and the vault themselves; modules: one per app group / profile.
    assert re.search(r"resource acrPull [^{]+\{[^}]*scope: registry", main)
    assert re.search(r"resource secretsUser [^{]+\{[^}]*scope: vault", main)
    assert (
        "module appRoles 'app-resource-group-roles.bicep' = [for group in appResourceGroups" in main
    )
    assert "scope: resourceGroup(group)" in main
    assert "module trafficManagerRoles 'traffic-manager-role.bicep'" in main
    assert "scope: resourceGroup(profile.resourceGroup)" in main
    assert resources(tm)["profile"].startswith("Microsoft.Network/trafficmanagerprofiles@")
    assert re.search(r"resource contributor [^{]+\{[^}]*scope: profile", tm)
    assignment = r"'Microsoft.Authorization/roleAssignments@[^']+' = \{.*?\n\}"
    for text, count in ((main, 2), (app, 2), (tm, 1)):
        blocks = re.findall(assignment, text, re.S)
        assert len(blocks) == count
        for block in blocks:
            assert "principalId: " in block and "principalType: 'ServicePrincipal'" in block


def test_the_parameters_example_names_every_required_parameter() -> None:
    main = bicep("main.bicep")
    params = re.findall(r"^param (\w+) \w+(.*)$", main, flags=re.MULTILINE)
    declared = {name for name, _ in params}
    required = {name for name, rest in params if "=" not in rest}
    assert {"registryName", "image", "keyVaultName", "appResourceGroups"} <= required
    example = json.loads((AZURE / "main.parameters.example.json").read_text())["parameters"]
    assert required <= set(example)
    assert set(example) <= declared
