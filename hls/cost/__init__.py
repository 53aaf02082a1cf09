"""The resource and cycle estimates of a converted model."""
