"""Unit tests of database_service."""
