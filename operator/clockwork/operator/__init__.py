"""The Kubernetes operator: thin kopf handlers over the reconcile core.

Only this package imports kopf. ``handlers`` registers one set of handlers per
kind; ``driver`` turns a body into reconcile inputs, runs a pass through the
shared engine and writes status and Events; ``main`` configures and starts kopf.
"""
