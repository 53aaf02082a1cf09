"""Names the converter and the registry share."""

RESOLUTION_PORT = "resolution"
