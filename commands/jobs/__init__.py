"""Deploy and rollback jobs: state machines over a Platform, persisted step by step."""
