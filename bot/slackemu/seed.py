"""The reference workspace of the product brief: alice deploys, bob and carol approve."""

from __future__ import annotations

from .clock import Clock, system_clock
from .workspace import Workspace


def reference_workspace(clock: Clock = system_clock) -> Workspace:
    """Users alice (deployer), bob and carol (leads), dave (no role); #deploys, #incidents."""
    ws = Workspace(clock=clock)
    ws.add_user("U0ALICE", "alice", "Alice Archer")
    ws.add_user("U0BOB", "bob", "Bob Baker")
    ws.add_user("U0CAROL", "carol", "Carol Cruz")
    ws.add_user("U0DAVE", "dave", "Dave Diaz")
    ws.add_usergroup("S0DEPLOYERS", "deployers", ["alice"], "Deployers")
    ws.add_usergroup("S0LEADS", "leads", ["bob", "carol"], "Leads")
    ws.add_channel("C0DEPLOYS", "deploys")
    ws.add_channel("C0STAGING", "staging-deploys")
    ws.add_channel("C0INCIDENTS", "incidents")
    return ws
