"""The scripted tour `deploybot demo` plays: console lines, with '# ' lines as narration."""

from bot.console.drill import DEMO_DRILL

DEMO_SCRIPT = """\
# Production runs v1.1.0 on the blue app behind Traffic Manager. Everyone can look.
/deploy status prod
# alice asks for v1.2.0 on production: refused, production takes only what passed staging.
/deploy prod v1.2.0 --reason "new queue API"
# So v1.2.0 goes to staging first, where one lead approves it.
/deploy staging v1.2.0 --reason "new queue API"
as bob
click 1
wait
# bob, a lead, asks to ship v1.2.0 to production himself...
/deploy prod v1.2.0 --reason "new queue API"
# ...and tries to approve his own request: refused, and told who can.
click 1
# He withdraws it; alice (a deployer) will ask instead.
click 2
submit alice will request it
# alice asks; the card waits for two leads.
as alice
/deploy prod v1.2.0 --reason "new queue API"
# bob approves...
as bob
click 1
# ...and carol approves: the job starts.
as carol
click 1
# green gets v1.2.0, is checked on its own host, takes the traffic and is watched.
wait
thread
# Next: v1.3.0 to staging. It passes its checks, then starts failing after the swap.
as alice
/deploy staging v1.3.0
as bob
click 1
wait watching
fault version v1.3.0 unhealthy
# The watch sees it and swaps back on its own.
wait
fault clear
# Finally a manual rollback of production, with a confirm dialog.
as alice
/rollback prod --reason "rollback drill"
click 1 yes
wait
# Production takes only what succeeded on staging; v1.3.0 failed there under an injected
# fault, so these canaries are forced: still two leads' approvals, audited as an override.
# A canary: v1.3.0 takes 10 %, then 25 %, then 50 % of production's users, judged against blue.
as alice
load 60
/canary prod v1.3.0 --force --reason "new queue API, gradually"
as bob
click 1
as carol
click 1
# Azure Monitor's figures every interval; a summary and a chart per stage; then 100 %.
wait
# Next, v1.4.0 as a canary. At 25 % its error rate rises...
as alice
/canary prod v1.4.0 --force
as bob
click 1
as carol
click 1
wait stage 2
fault version v1.4.0 error-rate 30%
# ...the judge sees two failing intervals in a row and takes it out of traffic by itself.
wait
fault clear
load 10
/deploy history
"""

# The incident drill ends the tour (bot.console.drill).
DEMO_SCRIPT += DEMO_DRILL
