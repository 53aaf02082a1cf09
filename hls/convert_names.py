"""Names the converter and the registry share."""

RESOLUTION_PORT = "resolution"
KIT_CONFIG_KEY = "MrfpgaBoard"  # in a converted model's hls4ml config: the kit converted it, for this board
