"""The fleet: edge nodes (heartbeat, targets), and later rollouts, tasks and workflows.

Pure: drivers feed what they observed and write what comes back.
"""
