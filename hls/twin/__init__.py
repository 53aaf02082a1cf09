"""The Verilog twin: core descriptions shared with the HLS layers, Verilog writers, Verilator and Yosys."""
