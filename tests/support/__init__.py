"""Real components the tests start: database replicas, MinIO, a control plane."""
