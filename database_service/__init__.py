"""database_service."""
