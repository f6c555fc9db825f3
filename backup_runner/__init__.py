"""backup_runner."""
