// A lane's weight ROM in the plain twin (hls4ml's Resource strategy keeps the weights in a ROM read one word
// a cycle): DEPTH words, read synchronously like the block RAM HLS would use; the contents come from FILE
// ($readmemh: one word a line, hexadecimal). Synthesized without block or LUT RAM, the ROM is logic of the
// address (constants for DEPTH 1).
module mrfpga_plain_rom #(
  parameter FILE = "",
  parameter WIDTH = 8,
  parameter DEPTH = 1,
  parameter ADDR_BITS = 1
) (
  input wire clk,
  input wire [ADDR_BITS-1:0] addr,
  output reg [WIDTH-1:0] data
);
  reg [WIDTH-1:0] rom [0:DEPTH-1];
  initial $readmemh(FILE, rom);
  always @(posedge clk) data <= rom[addr];
endmodule
