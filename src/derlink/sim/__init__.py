"""derlink.sim."""
