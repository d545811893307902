"""Incidents from monitoring alerts: parsing, mapping to environments, grouping, policy."""
