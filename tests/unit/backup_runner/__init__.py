"""Unit tests of backup_runner: pure logic and the filesystem storage, no servers."""
