"""The scripted tour `deploybot demo` plays: console lines, with '# ' lines as narration."""

DEMO_SCRIPT = """\
# alice asks the bot what it can do
/deploy help
# everyone can see where things stand
/deploy status
# dave has no role: he may look, not touch
as dave
/deploy lock prod
# alice locks prod for a database migration
as alice
/deploy lock prod database migration
# bob tries to lock it too and is told who holds it
as bob
/deploy lock prod
# a typo gets a clear answer, never an error page
/deploy prd v1.2.0
# alice asks for a deploy; the bot says exactly what it understood
as alice
/deploy production v1.2.0 --dry-run --reason "new queue API"
/deploy unlock prod
/deploy history prod
"""
