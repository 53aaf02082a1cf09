// One value requantized the way QKeras's quantized_relu / quantized_bits and hls4ml's
// ap_(u)fixed<.., AP_RND_CONV, AP_SAT> do: (ReLU,) SHIFT fraction bits dropped with rounding half to even
// (SHIFT < 0: fraction bits added), then saturated to the OW-bit signed or unsigned range. SHIFT and OW
// below 31 (the constants are Verilog integers).
module mrfpga_plain_requant #(
  parameter IW = 16,
  parameter IN_SIGNED = 1,
  parameter SHIFT = 0,
  parameter OW = 8,
  parameter OUT_SIGNED = 0,
  parameter RELU = 1
) (
  input wire [IW-1:0] x,
  output wire [OW-1:0] q
);
  /*verilator no_inline_module*/
  localparam UP = SHIFT < 0 ? -SHIFT : 0;
  localparam BW = IW + UP > OW ? IW + UP : OW;
  localparam VW = BW + 2;  // working width: the value, a rounding carry and a sign
  localparam signed [VW-1:0] HI = OUT_SIGNED ? (1 <<< (OW - 1)) - 1 : (1 <<< OW) - 1;
  localparam signed [VW-1:0] LO = OUT_SIGNED ? -(1 <<< (OW - 1)) : 0;
  wire signed [VW-1:0] v = {{(VW - IW){IN_SIGNED != 0 && x[IW-1]}}, x};
  wire signed [VW-1:0] r = RELU != 0 && v < 0 ? {VW{1'b0}} : v;
  wire signed [VW-1:0] rounded;
  generate
    if (SHIFT > 0) begin : down
      wire signed [VW-1:0] floor = r >>> SHIFT;
      wire [SHIFT-1:0] rest = r[SHIFT-1:0];
      localparam [SHIFT-1:0] HALF = 1 << (SHIFT - 1);
      assign rounded = floor + (rest > HALF || (rest == HALF && floor[0]));
    end else begin : up
      assign rounded = r <<< UP;
    end
  endgenerate
  assign q = rounded > HI ? HI[OW-1:0] : rounded < LO ? LO[OW-1:0] : rounded[OW-1:0];
endmodule
