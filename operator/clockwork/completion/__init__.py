"""Completion: fill the fields a user left out (AI, offline catalogue, defaults).

Completers only ever produce values for *missing* fields; user values always win.
Whatever a completer proposes is untrusted until the guard and the kind's model
accept it (see :mod:`clockwork.reconcile`).
"""
