"""The composition root: the ``cloudfolio`` command line and the wiring that builds each process.

This is the only package that may import every layer (``services.core`` at the bottom, the steps,
the queue machinery, ``rollout``, ``router``); import-linter enforces it. ``cloudfolio.devserver``
holds the offline GitHub API double used for local development, load tests and the test suite.
"""
