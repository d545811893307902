"""The incident thread in Slack: its card, its log and the buttons on it."""
