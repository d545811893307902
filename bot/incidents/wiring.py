"""The incident parts of the bot, built once by ``bot.assemble.build`` and handed out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import Route

from bot.alerts.http import AlertAuth, alert_routes
from bot.cards import CardPublisher
from bot.incidents.reporter import IncidentReporter
from bot.settings import Settings
from bot.tasks import TaskSet
from commands.deploys import Deploys
from commands.incidents.auto_rollback import AutoRollback
from commands.incidents.intake import Intake
from commands.incidents.responding import Responder
from storage import AuditEvent, Incidents, Store

FINISHED = "deployment.finished"


@dataclass(frozen=True)
class IncidentParts:
    intake: Intake
    responder: Responder
    reporter: IncidentReporter

    def routes(
        self, settings: Settings, tasks: TaskSet, new_reference: Callable[[], str]
    ) -> list[Route]:
        runtime = settings.runtime
        token = runtime.alert_token.reveal() if runtime.alert_token else None
        grafana = runtime.grafana_hmac_secret
        auth = AlertAuth(token, grafana.reveal() if grafana else None)
        return alert_routes(self.intake, auth, tasks, new_reference)

    def watch_jobs(self, store: Store, tasks: TaskSet) -> Callable[[], None]:
        """A job's end reaches the incident that started it (an audit subscriber)."""

        def on_audit(row: AuditEvent) -> None:
            if row.action == FINISHED and row.deployment_id:
                tasks.spawn(
                    self.responder.deployment_finished(row.deployment_id),
                    name=f"incident-job:{row.deployment_id}",
                )

        return store.audit.subscribe(on_audit)


def build_incidents(
    settings: Settings,
    store: Store,
    publisher: CardPublisher,
    client: AsyncWebClient,
    deploys: Deploys,
    clock: Callable[[], datetime],
    tasks: TaskSet,
) -> IncidentParts:
    config = settings.config
    incidents = Incidents(store.db)
    reporter = IncidentReporter(publisher, client, store, incidents, config, clock, tasks)
    responder = Responder(config, store, incidents, deploys, clock, reporter)
    reporter.responder = responder
    intake = Intake(config, store, incidents, clock, reporter)
    intake.policy = AutoRollback(responder).consider
    return IncidentParts(intake, responder, reporter)
