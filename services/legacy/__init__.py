"""The legacy orchestrator replica: the synchronous pipeline behind a Durable-Functions-style HTTP API."""
