"""derlink.store."""
