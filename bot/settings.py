"""Settings: the config file plus the process environment, as one frozen value.

Nothing here reads ``os.environ`` by itself: the CLI passes the mapping in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from commands.config import Config, ConfigError, Problem, config_from_file, config_from_text
from commands.config.durations import parse_duration
from commands.config.load import reference_text
from commands.job_leases import DEFAULT_LEASE, MIN_LEASE
from storage import AuditKey, InvalidValueError, Keyring

DEFAULT_CONFIG = Path("deploybot.yml")


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Runtime:
    """Secrets and endpoint overrides, only ever from the environment (PRODUCT §7)."""

    slack_bot_token: Secret | None = None
    slack_signing_secret: Secret | None = None
    slack_app_token: Secret | None = None
    slack_api_url: str | None = None
    azure_resource_manager_url: str | None = None
    azure_authority_host: str | None = None
    ssl_cert_file: Path | None = None
    database_url: str | None = None
    alert_token: Secret | None = None
    # Keys the audit log's HMAC layer; on App Service a Key Vault reference can supply them.
    audit_key: Secret | None = None
    audit_key_previous: Secret | None = None
    # Grafana's webhook hmacConfig secret: set, /alerts/grafana also needs a valid signature.
    grafana_hmac_secret: Secret | None = None
    # How long a job's lease lasts unrenewed: a dead replica's jobs move on after this.
    job_lease: str | None = None

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> Runtime:
        def secret(name: str) -> Secret | None:
            value = env.get(name, "").strip()
            return Secret(value) if value else None

        def plain(name: str) -> str | None:
            return env.get(name, "").strip() or None

        cert = plain("SSL_CERT_FILE")
        api_url = plain("SLACK_API_URL")
        if api_url and not api_url.endswith("/"):
            api_url += "/"
        return cls(
            slack_bot_token=secret("SLACK_BOT_TOKEN"),
            slack_signing_secret=secret("SLACK_SIGNING_SECRET"),
            slack_app_token=secret("SLACK_APP_TOKEN"),
            slack_api_url=api_url,
            azure_resource_manager_url=plain("AZURE_RESOURCE_MANAGER_URL"),
            azure_authority_host=plain("AZURE_AUTHORITY_HOST"),
            ssl_cert_file=Path(cert) if cert else None,
            database_url=plain("DEPLOYBOT_DATABASE_URL"),
            alert_token=secret("DEPLOYBOT_ALERT_TOKEN"),
            audit_key=secret("DEPLOYBOT_AUDIT_KEY"),
            audit_key_previous=secret("DEPLOYBOT_AUDIT_KEY_PREVIOUS"),
            grafana_hmac_secret=secret("DEPLOYBOT_GRAFANA_HMAC_SECRET"),
            job_lease=plain("DEPLOYBOT_JOB_LEASE"),
        )

    def job_lease_time(self) -> timedelta:
        """DEPLOYBOT_JOB_LEASE (default 10s); a bad value fails here, naming the variable."""
        if self.job_lease is None:
            return DEFAULT_LEASE
        text = self.job_lease
        try:
            lease = parse_duration(float(text) if text.replace(".", "", 1).isdigit() else text)
        except ValueError as error:
            raise _env_error("DEPLOYBOT_JOB_LEASE", str(error)) from None
        if lease < MIN_LEASE:
            raise _env_error(
                "DEPLOYBOT_JOB_LEASE", f"must be at least {MIN_LEASE.total_seconds():g}s"
            )
        return lease

    def audit_keyring(self) -> Keyring | None:
        """The audit log's keys, or None without DEPLOYBOT_AUDIT_KEY; a bad key fails here."""
        if self.audit_key is None:
            if self.audit_key_previous is not None:
                raise _env_error(
                    "DEPLOYBOT_AUDIT_KEY", "must be set when DEPLOYBOT_AUDIT_KEY_PREVIOUS is"
                )
            return None
        keys = {}
        for name, value in (
            ("DEPLOYBOT_AUDIT_KEY", self.audit_key),
            ("DEPLOYBOT_AUDIT_KEY_PREVIOUS", self.audit_key_previous),
        ):
            if value is not None:
                try:
                    keys[name] = AuditKey.from_text(value.reveal())
                except InvalidValueError as error:
                    raise _env_error(name, str(error)) from None
        previous = keys.get("DEPLOYBOT_AUDIT_KEY_PREVIOUS")
        return Keyring(keys["DEPLOYBOT_AUDIT_KEY"], [previous] if previous else [])

    def require(self, *names: str) -> None:
        """Fail with the variable's name when a mode needs a secret that is not set."""
        missing = [n for n in names if getattr(self, n.lower()) is None]
        if missing:
            raise ConfigError(
                "environment",
                [Problem(name, "must be set for this mode") for name in missing],
            )


def _env_error(name: str, expected: str) -> ConfigError:
    return ConfigError("environment", [Problem(name, expected)])


@dataclass(frozen=True)
class Settings:
    config: Config
    runtime: Runtime = field(default_factory=Runtime)
    source: str = "built-in reference configuration"


def config_path(explicit: str | None, env: Mapping[str, str]) -> Path:
    return Path(explicit or env.get("DEPLOYBOT_CONFIG") or DEFAULT_CONFIG)


def load_settings(
    explicit: str | None, env: Mapping[str, str], *, allow_reference: bool = False
) -> Settings:
    """Load the config named by --config, DEPLOYBOT_CONFIG or ./deploybot.yml.

    With ``allow_reference`` (console, demo) a missing default file means the built-in
    reference configuration instead of an error.
    """
    runtime = Runtime.from_environ(env)
    path = config_path(explicit, env)
    chosen = explicit or env.get("DEPLOYBOT_CONFIG")
    if allow_reference and not chosen and not path.exists():
        return Settings(config_from_text(reference_text(), "reference.yml"), runtime)
    return Settings(config_from_file(path), runtime, str(path))
