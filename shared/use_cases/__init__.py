"""Use cases: orchestrate the core and the adapters for one request or message."""
