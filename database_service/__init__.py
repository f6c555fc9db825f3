"""The replicated person database each DatabaseCluster pod runs (`python -m database_service`).

Pod 0 is the leader (reads and writes); the other pods are read-only followers that pull the
leader's ordered change log. SQLite in WAL mode with group commit; see docs/database-service.md.
This package never imports `hooks` or `backup_runner`: they meet only through docs/contracts.md.
"""
