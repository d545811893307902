"""Slot swap (a Location-style LRO), swap with preview, and the operation results to poll."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from commands.platform.sandbox.arm_web import UNITS, find_site, find_unit
from commands.platform.sandbox.armcore import ArmCall, ArmError, ArmHandler, arm_json, not_found
from commands.platform.sandbox.errors import ResourceConflict
from commands.platform.sandbox.faults import Faults
from commands.platform.sandbox.lifecycle import Lifecycle
from commands.platform.sandbox.lro import Operations
from commands.platform.sandbox.resources import Unit
from commands.platform.sandbox.router import Router
from commands.platform.sandbox.world import World


class SwapApi:
    def __init__(
        self,
        world: World,
        lifecycle: Lifecycle,
        operations: Operations,
        faults: Faults,
        lro_polls: int,
    ) -> None:
        self._world = world
        self._life = lifecycle
        self._ops = operations
        self._faults = faults
        self._lro_polls = lro_polls

    def register(self, router: Router[ArmHandler]) -> None:
        for unit in UNITS:
            router.add("POST", unit + "/slotsswap", self.swap)
            router.add("POST", unit + "/applySlotConfig", self.apply_config)
            router.add("POST", unit + "/resetSlotConfig", self.reset_config)
            router.add("GET", unit + "/operationresults/{op}", self.poll)

    def _pair(self, call: ArmCall) -> tuple[Unit, Unit]:
        """(source, target): the slot being promoted and where it goes."""
        here = find_unit(self._world, call.params)
        name = call.json().get("targetSlot")
        if not isinstance(name, str) or not name:
            raise ArmError(400, "BadRequest", "The request body needs targetSlot (a slot name).")
        other = here.site.unit(name)
        if other is None:
            raise not_found(
                "Microsoft.Web/sites/slots", f"{here.site.name}/{name}", here.site.resource_group
            )
        if other is here:
            raise ArmError(400, "BadRequest", f"Cannot swap slot {name!r} with itself.")
        # Site form: targetSlot is the slot that swaps into production.
        return (other, here) if here.slot is None else (here, other)

    def swap(self, call: ArmCall) -> web.Response:
        source, target = self._pair(call)
        site = source.site
        self._life.check_idle(site)
        preview = site.preview
        if preview is not None and {preview.source, preview.target} != {source, target}:
            raise ResourceConflict(
                f"A swap with preview of {preview.source.slot_name} is in progress; "
                "complete or reset it first."
            )
        slow = self._faults.take_arm(call.request.path, ("slow_lro",))
        failed = self._faults.take_arm(call.request.path, ("swap_failed",))
        polls: int | None = self._lro_polls
        seconds = 0.0
        if slow is not None:
            polls = slow.polls if slow.polls > 0 else None
            seconds = slow.seconds
        failure = None
        if failed is not None:
            failure = (
                f"Failed to swap slot {source.slot_name} with {target.slot_name}: the site "
                "failed to warm up (injected by the sandbox)."
            )
        op = self._ops.begin(
            site,
            lambda: self._life.swap(site, source, target),
            polls=polls,
            failure=failure,
            seconds=seconds,
        )
        here = find_unit(self._world, call.params)
        return web.Response(status=202, headers={"Location": self._poll_url(call, here, op.id)})

    @staticmethod
    def _poll_url(call: ArmCall, unit: Unit, op_id: str) -> str:
        query = urlencode({"api-version": call.api_version})
        return f"{call.base_url}{unit.resource_id}/operationresults/{op_id}?{query}"

    def apply_config(self, call: ArmCall) -> web.Response:
        source, target = self._pair(call)
        self._life.check_idle(source.site)
        self._life.apply_slot_config(source.site, source, target)
        return web.Response(status=200)

    def reset_config(self, call: ArmCall) -> web.Response:
        site = find_site(self._world, call.params)
        find_unit(self._world, call.params)
        self._life.check_idle(site)
        self._life.reset_slot_config(site)
        return web.Response(status=200)

    def poll(self, call: ArmCall) -> web.Response:
        unit = find_unit(self._world, call.params)
        op = self._ops.poll(call.params["op"])
        if op is None or op.site is not unit.site:
            raise not_found("Microsoft.Web/sites/operationresults", call.params["op"])
        if not op.done:
            return web.Response(status=202, headers={"Location": self._poll_url(call, unit, op.id)})
        if op.failure is not None:
            return arm_json({"error": {"code": "SwapFailed", "message": op.failure}}, 409)
        return web.Response(status=200)
