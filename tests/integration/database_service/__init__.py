"""database_service as real processes on 127.0.0.1: replication, faults, bad input, load."""
