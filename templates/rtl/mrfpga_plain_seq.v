// The plain twin's Dense schedule: STEPS cycles reading the weight ROM (address `addr`), the lanes one and
// two stages behind (`v1`: ROM word and operands ready; `v2`: product ready, accumulate), then `fin` for
// one cycle when every lane holds its final sums. Layer cycles: STEPS + 4 (load, STEPS reads, the product
// and accumulate stages of the last read, the output sum).
module mrfpga_plain_seq #(parameter STEPS = 1, parameter ADDR_BITS = 1) (
  input wire clk,
  input wire rst,
  input wire start,
  output wire load,          // start taken: the layer latches its inputs
  output reg [ADDR_BITS-1:0] addr,
  output reg v1,
  output reg v2,
  output reg fin
);
  reg issuing, last1, last2;
  wire busy = issuing | v1 | v2 | last2 | fin;
  assign load = start & ~busy;
  wire last = addr == STEPS - 1;
  always @(posedge clk)
    if (rst) begin
      issuing <= 1'b0; v1 <= 1'b0; v2 <= 1'b0; last1 <= 1'b0; last2 <= 1'b0; fin <= 1'b0;
    end else begin
      v1 <= issuing;
      v2 <= v1;
      last1 <= issuing & last;
      last2 <= last1;
      fin <= last2;
      if (load) begin
        issuing <= 1'b1;
        addr <= 0;
      end else if (issuing) begin
        addr <= addr + 1'b1;
        if (last) issuing <= 1'b0;
      end
    end
endmodule
