"""Every test here runs real replica processes on 127.0.0.1 (see tests/support/database.py)."""

from __future__ import annotations

from tests.support.database import database_cluster

__all__ = ["database_cluster"]
