"""derlink.cli."""
