"""The kit's layer families: each module holds a family's Keras handler, hls4ml IR layer, C++ templates and
cost model (``protocol.LayerFamily``); ``registry`` registers them with hls4ml."""
