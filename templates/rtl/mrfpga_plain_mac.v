// One lane of the plain twin's Dense layer: a signed XW x WW multiplier (the operand zero-extended when
// unsigned) with its product registered, and an accumulator of AW bits (sums mod 2^AW). `x`, `w` and
// `restart` arrive together (stage 1); the product is added one cycle later (stage 2, when `acc_en`). A
// restart begins a new segment (a new output's sum) from the product; with SEGS > 1 the finished segments
// shift into `sums` above the running one: sums[0] is the last segment, sums[j] the j-th before it.
module mrfpga_plain_mac #(
  parameter XW = 8,
  parameter X_SIGNED = 0,
  parameter WW = 8,
  parameter AW = 20,
  parameter SEGS = 1
) (
  input wire clk,
  input wire acc_en,
  input wire [XW-1:0] x,
  input wire [WW-1:0] w,
  input wire restart,
  output wire [SEGS*AW-1:0] sums
);
  /*verilator no_inline_module*/
  localparam PW = XW + WW + 1;
  wire signed [XW:0] x_ext = {X_SIGNED != 0 && x[XW-1], x};
  reg signed [PW-1:0] product;
  reg restart_q;
  always @(posedge clk) begin
    product <= x_ext * $signed(w);
    restart_q <= restart;
  end
  wire [AW-1:0] addend = product;  // sign-extended or cut to AW bits
  reg [AW-1:0] acc;
  always @(posedge clk) if (acc_en) acc <= (restart_q ? {AW{1'b0}} : acc) + addend;
  generate
    if (SEGS > 1) begin : segments
      reg [(SEGS-1)*AW-1:0] done_sums;
      if (SEGS > 2) begin : chain
        always @(posedge clk) if (acc_en && restart_q) done_sums <= {done_sums[(SEGS-2)*AW-1:0], acc};
      end else begin : one
        always @(posedge clk) if (acc_en && restart_q) done_sums <= acc;
      end
      assign sums = {done_sums, acc};
    end else begin : single
      assign sums = acc;
    end
  endgenerate
endmodule
