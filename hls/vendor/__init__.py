"""Vendor tools: Vivado/Vitis HLS synthesis and parsing of their reports."""
