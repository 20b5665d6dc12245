"""derlink.pki."""
