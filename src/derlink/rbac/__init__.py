"""derlink.rbac."""
