"""derlink.ops."""
