"""The local Azure sandbox: fake ARM + Entra over HTTPS, a fleet of fake apps, front doors.

    async with Sandbox.start(SandboxSystem.reference(), seed=1) as sb:
        sb.arm_url, sb.authority_host, sb.ca_file, sb.env()      # point the real SDK here
        sb.app_url("virtualqueue-staging", "green")               # one app/slot host
        sb.front_door_url("virtualqueue-production-tm")            # split by TM weights
        sb.faults.app(...) / .version(...) / .arm(...) / .clear()  # misbehave on purpose
        sb.load.set_rate(20)                                       # requests/s per front door

Modules: ``system`` (what exists at start), ``resources``/``world`` (the live model),
``lifecycle`` (settings, restarts, swaps), ``arm*``/``lro`` (the ARM routes), ``identity``
(token endpoint), ``apps`` (fake app servers), ``frontdoor``, ``metrics``/``arm_monitor``
(Azure Monitor), ``load`` (synthetic traffic), ``faults``, ``admin``/``artifacts`` (the
plain-http side), ``tls``, ``cli``.
``clients`` builds the real aio SDK clients against a sandbox (it imports the slow SDK, so it
is not imported here).
"""

from commands.platform.sandbox.clock import ManualClock
from commands.platform.sandbox.errors import ResourceConflict, SandboxError
from commands.platform.sandbox.faults import AppFault, ArmFault, Faults, VersionFault
from commands.platform.sandbox.recording import RecordedRequest
from commands.platform.sandbox.sandbox import Sandbox
from commands.platform.sandbox.system import (
    EndpointSpec,
    ProfileSpec,
    SandboxSystem,
    SiteSpec,
    SlotSpec,
)

__all__ = [
    "AppFault",
    "ArmFault",
    "EndpointSpec",
    "Faults",
    "ManualClock",
    "ProfileSpec",
    "RecordedRequest",
    "ResourceConflict",
    "Sandbox",
    "SandboxError",
    "SandboxSystem",
    "SiteSpec",
    "SlotSpec",
    "VersionFault",
]
