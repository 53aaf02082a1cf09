// The plain twin's Dense operands: the N input codes latched at load, rotated by one value at each `step`,
// so that after k steps position i holds input (i + k) mod N. A lane reading a fixed position sees the
// consecutive inputs of its block of products, one a cycle, with no operand multiplexer.
module mrfpga_plain_rotator #(parameter N = 1, parameter W = 8) (
  input wire clk,
  input wire load,
  input wire step,
  input wire [N*W-1:0] in_data,
  output reg [N*W-1:0] values
);
  generate
    if (N > 1) begin : rotate
      always @(posedge clk)
        if (load) values <= in_data;
        else if (step) values <= {values[W-1:0], values[N*W-1:W]};
    end else begin : hold
      always @(posedge clk) if (load) values <= in_data;
    end
  endgenerate
endmodule
