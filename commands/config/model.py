"""The configuration as typed, frozen values: environments, roles, policies.

Only what a team writes in ``deploybot.yml``. Secrets and endpoint overrides come from the
process environment and live in ``bot.settings``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from commands.config.durations import Duration

SLACK_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
NAME = re.compile(r"^[a-z][a-z0-9-]*$")
RESERVED_WORDS = frozenset({"status", "history", "lock", "unlock", "help", "stats"})
HealthCheckName = Literal[
    "health",
    "ready",
    "live",
    "database",
    "redis",
    "endpoints",
    "latency",
    "security_headers",
    "throughput",
]
HEALTH_CHECKS: tuple[HealthCheckName, ...] = get_args(HealthCheckName)
Strategy = Literal["bluegreen", "canary"]
Topology = Literal["slots", "traffic-manager"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Artifact(Frozen):
    """How a version becomes something App Service can run."""

    package_url: str | None = None
    image: str | None = None
    version_setting: str = "APP_VERSION"
    check: bool = True

    @model_validator(mode="after")
    def _one_kind(self) -> Artifact:
        templates = [t for t in (self.package_url, self.image) if t is not None]
        if len(templates) != 1:
            raise ValueError("give exactly one of package_url or image")
        if "{version}" not in templates[0]:
            raise ValueError("the template must contain {version}")
        return self

    def package_url_for(self, version: str) -> str | None:
        return self.package_url.replace("{version}", version) if self.package_url else None

    def image_for(self, version: str) -> str | None:
        return self.image.replace("{version}", version) if self.image else None


class AzureResources(Frozen):
    subscription: str
    resource_group: str
    app: str | None = None
    slot: str | None = None
    traffic_manager: str | None = None
    apps: dict[str, str] = Field(default_factory=dict)
    endpoint_type: Literal["AzureEndpoints", "ExternalEndpoints"] = "AzureEndpoints"


class Urls(Frozen):
    """Where the bot reaches the app; defaults derive from the Azure names."""

    public: str | None = None
    targets: dict[str, str] = Field(default_factory=dict)


class Throughput(Frozen):
    requests: int = Field(50, ge=1, le=10_000)
    concurrency: int = Field(10, ge=1, le=200)
    min_rps: float = Field(20.0, ge=0)


class Health(Frozen):
    checks: tuple[HealthCheckName, ...] = HEALTH_CHECKS
    endpoints: tuple[str, ...] = ("/api/queues",)
    latency_ms: float = Field(200.0, gt=0)
    security_headers: tuple[str, ...] = (
        "X-Content-Type-Options",
        "X-Frame-Options",
        "Strict-Transport-Security",
    )
    throughput: Throughput = Throughput()
    timeout: Duration = timedelta(seconds=5)
    version_wait: Duration = timedelta(minutes=2)
    watch: Duration = timedelta(minutes=5)
    watch_interval: Duration = timedelta(seconds=15)
    max_error_rate: float = Field(0.01, ge=0, le=1)


class CanaryStage(Frozen):
    percent: int = Field(ge=1, le=100)
    hold: Duration = timedelta(0)


class MetricsSource(Frozen):
    source: Literal["azure-monitor", "prometheus", "scrape"] = "azure-monitor"
    url: str | None = None
    path: str = "/metrics"
    queries: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _url_for_prometheus(self) -> MetricsSource:
        if self.source == "prometheus" and not self.url:
            raise ValueError("a prometheus metrics source needs url")
        return self


class RollbackRules(Frozen):
    """What the canary judge holds the canary to (``commands.canary.judge``)."""

    max_error_rate: float = Field(0.01, ge=0, le=1)
    max_p95_latency_ms: float = Field(500.0, gt=0)
    min_throughput_ratio: float = Field(0.8, ge=0, le=1)
    min_requests: int = Field(50, ge=0)
    consecutive_failures: int = Field(2, ge=1, le=100)
    confidence: float = Field(0.98, ge=0.5, lt=1)
    allowed_increase: float = Field(0.1, ge=0)


def _default_stages() -> tuple[CanaryStage, ...]:
    return (
        CanaryStage(percent=5, hold=timedelta(minutes=10)),
        CanaryStage(percent=25, hold=timedelta(minutes=20)),
        CanaryStage(percent=50, hold=timedelta(minutes=30)),
        CanaryStage(percent=100),
    )


class Canary(Frozen):
    stages: tuple[CanaryStage, ...] = Field(default_factory=_default_stages)
    interval: Duration = timedelta(seconds=30)
    max_extensions: int = Field(3, ge=0)
    metrics: MetricsSource = MetricsSource()
    rollback: RollbackRules = RollbackRules()

    @field_validator("stages")
    @classmethod
    def _increasing(cls, stages: tuple[CanaryStage, ...]) -> tuple[CanaryStage, ...]:
        percents = [s.percent for s in stages]
        if not percents or percents != sorted(set(percents)):
            raise ValueError("stages must be strictly increasing percentages")
        return stages


class Hook(Frozen):
    url: str
    method: Literal["GET", "POST", "PUT"] = "POST"
    timeout: Duration = timedelta(seconds=30)
    headers: dict[str, str] = Field(default_factory=dict)


class Hooks(Frozen):
    pre_deploy: Hook | None = None
    pre_switch: Hook | None = None
    post_switch: Hook | None = None


class Approvals(Frozen):
    required: int = Field(0, ge=0, le=10)
    approvers: tuple[str, ...] = ()
    allow_self_approval: bool = False
    expires_after: Duration = timedelta(minutes=30)


class EnvironmentIncidents(Frozen):
    """How alerts find this environment, and its own automatic-rollback window.

    ``match``: label sets, any one of which must all be equal on an alert (e.g.
    ``{service: virtualqueue, env: production}``). ``resources``: extra Azure resource IDs
    (the environment's own sites and slots always map to it).
    """

    match: tuple[dict[str, str], ...] = ()
    resources: tuple[str, ...] = ()
    auto_rollback_within: Duration | None = None


class Environment(Frozen):
    name: str
    aliases: tuple[str, ...] = ()
    channel: str = "#deploys"
    topology: Topology
    strategy: Strategy = "bluegreen"
    azure: AzureResources
    artifact: Artifact
    urls: Urls = Urls()
    deployers: tuple[str, ...] = ()
    approvals: Approvals = Approvals()
    health: Health = Health()
    canary: Canary = Canary()
    hooks: Hooks = Hooks()
    incidents: EnvironmentIncidents = EnvironmentIncidents()
    # Promotion order: a version must have succeeded on each of these first (--force overrides).
    requires: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _topology_matches_resources(self) -> Environment:
        az = self.azure
        if self.topology == "slots":
            if not az.app or not az.slot:
                raise ValueError("topology slots needs azure.app and azure.slot")
            if az.slot == "production":
                raise ValueError("azure.slot is the staging slot; it cannot be 'production'")
        else:
            if not az.traffic_manager:
                raise ValueError("topology traffic-manager needs azure.traffic_manager")
            missing = {"blue", "green"} - set(az.apps)
            if missing:
                raise ValueError(f"topology traffic-manager needs azure.apps.{sorted(missing)[0]}")
        if self.approvals.required > 0 and not self.approvals.approvers:
            raise ValueError("approvals.required > 0 needs approvals.approvers")
        return self

    @property
    def target_names(self) -> tuple[str, ...]:
        """The deployable units: ``production`` and the slot, or the colours."""
        if self.topology == "slots":
            assert self.azure.slot is not None
            return ("production", self.azure.slot)
        return tuple(self.azure.apps)


class Weekly(Frozen):
    days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...]
    start: str = "00:00"
    end: str = "24:00"

    @field_validator("start", "end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        match = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
        if (
            not match
            or int(match[1]) > 24
            or int(match[2]) > 59
            or (int(match[1]) == 24 and int(match[2]) != 0)
        ):
            raise ValueError(f"expected a time of day like 18:00, got {value!r}")
        return value


class Freeze(Frozen):
    name: str
    environments: tuple[str, ...] = ()
    timezone: str = "UTC"
    weekly: Weekly | None = None
    start: str | None = None
    end: str | None = None
    reason: str | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> Freeze:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        if (self.weekly is None) == (self.start is None or self.end is None):
            raise ValueError("give either weekly, or both start and end (ISO date-times)")
        return self


class Incidents(Frozen):
    """Where incident threads go and how alerts are grouped (PRODUCT §5).

    ``environment_labels``: alert labels whose value, when it names an environment or one of
    its aliases, maps the alert there (e.g. ``[env, environment]``). ``cooldown``: a re-fire
    this soon after an incident was resolved reopens it; later, it starts a new one.
    ``auto_rollback_within`` is the default for environments that do not set their own.
    """

    channel: str = "#incidents"
    auto_rollback_within: Duration | None = None
    environment_labels: tuple[str, ...] = ()
    cooldown: Duration = timedelta(minutes=30)


class Audit(Frozen):
    """Checkpoints of the audit log (row count + head hash) posted where the database's
    writers cannot reach, for ``deploybot audit verify --against-slack``."""

    checkpoint_channel: str | None = None
    checkpoint_interval: Duration = timedelta(minutes=10)

    @field_validator("checkpoint_interval")
    @classmethod
    def _not_too_often(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("checkpoint_interval must be at least 1s")
        return value


class AzureRequests(Frozen):
    """How long the bot waits on Azure Resource Manager."""

    timeout: Duration = timedelta(seconds=30)
    attempt_timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _attempt_within_budget(self) -> AzureRequests:
        if not timedelta(0) < self.attempt_timeout <= self.timeout:
            raise ValueError("attempt_timeout must be more than 0 and at most timeout")
        return self


class Config(Frozen):
    roles: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    environments: dict[str, Environment]
    freezes: tuple[Freeze, ...] = ()
    incidents: Incidents = Incidents()
    audit: Audit = Audit()
    azure_requests: AzureRequests = AzureRequests()

    @model_validator(mode="before")
    @classmethod
    def _name_environments(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("environments"), dict):
            envs = {}
            for name, env in data["environments"].items():
                envs[name] = {"name": name, **env} if isinstance(env, dict) else env
            data = {**data, "environments": envs}
        return data

    @model_validator(mode="after")
    def _references(self) -> Config:
        if not self.environments:
            raise ValueError("environments: at least one environment is needed")
        for role, members in self.roles.items():
            for member in members:
                if not SLACK_ID.match(member):
                    raise ValueError(
                        f"roles.{role}: {member!r} is not a Slack user (U…/W…) or group (S…) ID"
                    )
        seen: dict[str, str] = {}
        for env in self.environments.values():
            for word in (env.name, *env.aliases):
                if not NAME.match(word) or word in RESERVED_WORDS:
                    raise ValueError(
                        f"environments.{env.name}: {word!r} cannot name an environment"
                    )
                if word in seen:
                    raise ValueError(
                        f"environments.{env.name}: {word!r} already names {seen[word]}"
                    )
                seen[word] = env.name
            for where, members in (
                ("deployers", env.deployers),
                ("approvals.approvers", env.approvals.approvers),
            ):
                for member in members:
                    if member not in self.roles and not SLACK_ID.match(member):
                        raise ValueError(
                            f"environments.{env.name}.{where}: {member!r} is neither a role "
                            "nor a Slack user/group ID"
                        )
            for required in env.requires:
                if required not in self.environments or required == env.name:
                    raise ValueError(
                        f"environments.{env.name}.requires: {required!r} is not another "
                        "environment (a version must succeed there first)"
                    )
        for freeze in self.freezes:
            for name in freeze.environments:
                if name not in seen:
                    raise ValueError(f"freezes.{freeze.name}: unknown environment {name!r}")
        return self

    def environment(self, name_or_alias: str) -> Environment | None:
        word = name_or_alias.lower()
        for env in self.environments.values():
            if word == env.name or word in env.aliases:
                return env
        return None

    def members(self, entries: tuple[str, ...]) -> frozenset[str]:
        """Expand role names into Slack IDs (user groups stay as their S… IDs)."""
        out: set[str] = set()
        for entry in entries:
            out.update(self.roles.get(entry, (entry,)))
        return frozenset(out)
