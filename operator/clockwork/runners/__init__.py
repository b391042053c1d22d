"""Runners execute a RunRequest somewhere and return a RunResult.

Kept import-light on purpose: :mod:`clockwork.runners.worker` imports this package
before gevent monkey-patches, so nothing here may import sockets or ssl.
"""
