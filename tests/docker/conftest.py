"""The Docker tier: a real engine and registry-free images (see tests/support/docker_lab.py).

Its ``docker_engine`` fixture is in tests/conftest.py: the model tier uses it too.
"""
