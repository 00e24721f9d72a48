"""What the bridge remembers in Redis, one module per memory (key formats: ``bridge.keys``)."""
