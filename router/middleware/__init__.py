"""The router's ASGI middleware, one per module."""
