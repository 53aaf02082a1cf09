// A synchronous ROM, the twins' one kind: DEPTH words, a word read when `read` is high and out a cycle later,
// like the block RAM HLS would use; the contents come from FILE ($readmemh: one word a line, hexadecimal).
// ROM_BLOCK 1 (the twins' rule: a ROM of 1,024 bits or more) asks for block RAM; otherwise, synthesized without
// LUT RAM, the ROM is logic of the address (constants for DEPTH 1).
module mrfpga_rom #(
  parameter FILE = "",
  parameter WIDTH = 8,
  parameter DEPTH = 1,
  parameter ADDR_BITS = 1,
  parameter ROM_BLOCK = 0                       // 1: the ROM in block RAM (large ROMs)
) (
  input wire clk,
  input wire read,
  input wire [ADDR_BITS-1:0] addr,
  output reg [WIDTH-1:0] data
);
  generate
    if (ROM_BLOCK) begin : block
      (* rom_style = "block", ram_style = "block" *) reg [WIDTH-1:0] rom [0:DEPTH-1];
      if (FILE != "") begin : contents  // the module without its instance's parameters reads no file
        initial $readmemh(FILE, rom);
      end
      always @(posedge clk) if (read) data <= rom[addr];
    end else begin : distributed
      reg [WIDTH-1:0] rom [0:DEPTH-1];
      if (FILE != "") begin : contents
        initial $readmemh(FILE, rom);
      end
      always @(posedge clk) if (read) data <= rom[addr];
    end
  endgenerate
endmodule
