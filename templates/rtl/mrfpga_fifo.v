// A FIFO of DEPTH words with a valid/ready handshake on each side, as an hls::stream of that depth: a word
// written in one cycle can be read from the next; a slot freed by a read takes a write from the next cycle.
// The words shift in at one end and are read at the oldest one's place, as HLS builds a shallow FIFO: Xilinx
// shift-register LUTs (SRL16E/SRLC32E, a LUT per bit and 32 words) from three words on.
module mrfpga_fifo #(
  parameter WIDTH = 8,
  parameter DEPTH = 2,
  parameter COUNT_BITS = 2                      // holds 0..DEPTH
) (
  input wire clk,
  input wire rst,
  input wire in_valid,
  output wire in_ready,
  input wire [WIDTH-1:0] in_data,
  output wire out_valid,
  input wire out_ready,
  output wire [WIDTH-1:0] out_data
);
  reg [COUNT_BITS-1:0] count;
  assign in_ready = count != DEPTH;
  assign out_valid = count != 0;
  wire push = in_valid && in_ready;
  wire pop = out_valid && out_ready;
  always @(posedge clk)
    if (rst) count <= 0;
    else count <= count + push - pop;
  // A shift register per bit, read at the oldest word's place: the shape synthesis maps to SRLs.
  genvar b;
  generate
    for (b = 0; b < WIDTH; b = b + 1) begin : bit_
      if (DEPTH == 1) begin : one
        reg word;
        always @(posedge clk) if (push) word <= in_data[b];
        assign out_data[b] = word;
      end else begin : chain
        reg [DEPTH-1:0] words;
        always @(posedge clk) if (push) words <= {words[DEPTH-2:0], in_data[b]};
        assign out_data[b] = words[count - 1'b1];
      end
    end
  endgenerate
endmodule
