"""derlink.e2e."""
