"""derlink.audit."""
