"""derlink.iec61850."""
