"""Canary analysis: the per-stage judge and the statistics behind it (pure logic, no I/O)."""
