"""backup_runner against real MinIO servers and real database_service processes."""
