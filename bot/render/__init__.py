"""Pure rendering: results and job state → Slack text and Block Kit."""
