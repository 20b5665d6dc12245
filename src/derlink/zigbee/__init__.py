"""derlink.zigbee."""
