"""The router's endpoints as module-level functions; each reads shared state from ``app.state``."""
