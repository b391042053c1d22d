"""The cluster tier: a real control plane (etcd, kube-apiserver, kube-controller-manager) per session.

The ``control_plane`` fixture is in tests/conftest.py: the operator tier runs its scenarios
against the same control plane (tests/operator/conftest.py, backend "real").
"""
