"""derlink.sep2."""
