"""State for local mode (SQLite), behind the same shape as a Kubernetes status."""

from clockwork.store.sqlite import LocalStore, StateLocked, StoredResource

__all__ = ["LocalStore", "StateLocked", "StoredResource"]
