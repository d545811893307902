"""The alert webhooks: /alerts/alertmanager, /alerts/azure-monitor, /alerts/grafana."""
