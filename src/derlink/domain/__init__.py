"""derlink.domain."""
