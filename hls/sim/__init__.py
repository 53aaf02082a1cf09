"""C simulation with g++, the exact float64 reference, precompiled headers."""
