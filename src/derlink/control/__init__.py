"""derlink.control."""
