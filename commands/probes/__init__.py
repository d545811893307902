"""Health checks (over HTTP) and metric readers (Prometheus, /metrics scrape, Azure Monitor)."""
