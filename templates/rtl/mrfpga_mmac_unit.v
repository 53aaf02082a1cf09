// One weight-term mMAC unit (docs/mmac_core.md), four stages: its own term ROM read (A); the operand selected
// by the entry's index among the group's registered values and shifted by the weight term's exponent, the
// product registered, inverted when the term is negative (B); the product's low LO_BITS and its carry added
// to the accumulator's low half (C); its high bits and the low half's carry out added to the high half a
// cycle later (D). Two short carry chains instead of one as wide as the accumulator: the same sums, a cycle
// later. The layer owns the schedule: which row to read, when a round starts (each half takes the next
// output's bias, the high half a cycle after the low) and when it ends.
// LANES > 1: a ROM row holds LANES entries (consecutive term slots of the group), each with its own operand and
// shift; the product registered in stage B is their sum, and lane l counts only while lane_on[l] (the slots past
// the resolution's budget in the row's last step are off).
// ROUNDS > 1 (the streaming Dense, which walks its rounds inside each group as the groups arrive): one
// accumulator per round, stage C adding into round round_c's and stage D into round_d's; a restart loads every
// round's from its slice of init; acc_all shows them all.
module mrfpga_mmac_unit #(
  parameter ROM_FILE = "",
  parameter DEPTH = 1,
  parameter ADDR_BITS = 1,
  parameter INDEX_BITS = 4,
  parameter EXP_BITS = 4,
  parameter GROUP = 16,
  parameter DATA_BITS = 8,
  parameter DATA_SIGNED = 0,
  parameter ACC_WIDTH = 24,
  parameter ACC_SHIFT = 0,
  parameter FLOOR_BITS = 1,
  parameter MAX_EXP = 15,                       // the largest exponent in the ROM: the shift spans no more
  parameter ROM_BLOCK = 0,                      // 1: the ROM in block RAM (large tables)
  parameter ROUNDS = 1,
  parameter ROUND_BITS = 1,
  parameter LANES = 1
) (
  input wire clk,
  input wire read,                              // stage A: fetch row addr
  input wire [ADDR_BITS-1:0] addr,
  input wire [GROUP*DATA_BITS-1:0] group_values, // stage B: the group's values, registered by the layer
  input wire [FLOOR_BITS-1:0] floor_q,          // terms below this exponent are dropped (onion precisions)
  input wire [LANES-1:0] lane_on,               // stage B: the lanes whose slot is within the budget
  input wire step,                              // stage B holds a step: register its product
  input wire accumulate,                        // stage C holds a step: accumulate its product's low half
  input wire restart,                           // low half <= init's (a round starts)
  input wire accumulate_hi,                     // stage D holds a step: accumulate its high half
  input wire restart_hi,                        // high half <= init's (a cycle after restart)
  input wire [ROUND_BITS-1:0] round_c,          // the round stage C accumulates into (ROUNDS > 1)
  input wire [ROUND_BITS-1:0] round_d,          // the round stage D accumulates into (ROUNDS > 1)
  input wire [ROUNDS*ACC_WIDTH-1:0] init,       // the low half read at restart, the high half at restart_hi
  output wire [ACC_WIDTH-1:0] acc_next,         // low half: with stage C's product; high half: with stage D's
  output wire [ROUNDS*ACC_WIDTH-1:0] acc_all    // every round's accumulator (ROUNDS > 1)
);
  /*verilator no_inline_module*/
  localparam ENTRY_BITS = INDEX_BITS + EXP_BITS + 2;

  wire [LANES*ENTRY_BITS-1:0] row;
  mrfpga_rom #(.FILE(ROM_FILE), .WIDTH(LANES*ENTRY_BITS), .DEPTH(DEPTH), .ADDR_BITS(ADDR_BITS), .ROM_BLOCK(ROM_BLOCK)) rom (
    .clk(clk), .read(read), .addr(addr), .data(row)
  );

  // An array read: synthesis maps it to LUT6 and MUXF7/MUXF8, the wide multiplexer of the fabric.
  wire [DATA_BITS-1:0] values [0:GROUP-1];
  genvar i;
  generate
    for (i = 0; i < GROUP; i = i + 1) begin : value
      assign values[i] = group_values[i*DATA_BITS +: DATA_BITS];
    end
  endgenerate

  // Each lane's operand shifted by up to MAX_EXP places in SHIFT_WIDTH bits, then extended to the accumulator;
  // the grid's constant shift is wiring. A negative term is inverted, its carry of one (-s = ~s + 1) counted.
  localparam SHIFT_WIDTH = DATA_BITS + MAX_EXP < ACC_WIDTH ? DATA_BITS + MAX_EXP : ACC_WIDTH;
  wire [ACC_WIDTH-1:0] term [0:LANES-1];
  wire [LANES-1:0] term_carry;
  generate
    for (i = 0; i < LANES; i = i + 1) begin : lane
      wire [ENTRY_BITS-1:0] entry = row[i*ENTRY_BITS +: ENTRY_BITS];
      wire [INDEX_BITS-1:0] index = entry[INDEX_BITS-1:0];
      wire [EXP_BITS-1:0] exponent = entry[INDEX_BITS+EXP_BITS-1:INDEX_BITS];
      wire negative = entry[INDEX_BITS+EXP_BITS];
      wire valid = entry[INDEX_BITS+EXP_BITS+1] && exponent >= floor_q && lane_on[i];
      wire [DATA_BITS-1:0] operand = values[index];
      wire [SHIFT_WIDTH-1:0] operand_wide;
      if (DATA_BITS >= SHIFT_WIDTH) assign operand_wide = operand[SHIFT_WIDTH-1:0];
      else if (DATA_SIGNED) assign operand_wide = {{(SHIFT_WIDTH-DATA_BITS){operand[DATA_BITS-1]}}, operand};
      else assign operand_wide = {{(SHIFT_WIDTH-DATA_BITS){1'b0}}, operand};
      wire [SHIFT_WIDTH-1:0] shifted_narrow = operand_wide << exponent;
      wire [ACC_WIDTH-1:0] shifted;
      if (SHIFT_WIDTH == ACC_WIDTH) assign shifted = shifted_narrow << ACC_SHIFT;
      else if (DATA_SIGNED) assign shifted = {{(ACC_WIDTH-SHIFT_WIDTH){shifted_narrow[SHIFT_WIDTH-1]}}, shifted_narrow} << ACC_SHIFT;
      else assign shifted = {{(ACC_WIDTH-SHIFT_WIDTH){1'b0}}, shifted_narrow} << ACC_SHIFT;
      assign term[i] = valid ? (negative ? ~shifted : shifted) : {ACC_WIDTH{1'b0}};
      assign term_carry[i] = valid && negative;
    end
  endgenerate

  // One lane: the inverted term and its carry registered (stage C is one adder). More lanes: their sum with
  // every carry, registered as the product.
  reg [ACC_WIDTH-1:0] product;
  reg carry;
  reg [ACC_WIDTH-1:0] lanes_sum;
  integer l;
  always @* begin
    lanes_sum = term[0];
    for (l = 1; l < LANES; l = l + 1) lanes_sum = lanes_sum + term[l];
    for (l = 1; l < LANES; l = l + 1) lanes_sum = lanes_sum + term_carry[l];
  end
  always @(posedge clk)
    if (step) begin
      product <= lanes_sum;
      carry <= term_carry[0];
    end

  // The split: at least one bit in each half, the low half a whole number of CARRY4 (4 bits) where it can be.
  localparam LO_HALF = 4 * ((ACC_WIDTH + 7) / 8);
  localparam LO_BITS = ACC_WIDTH < 2 ? 1 : (LO_HALF < ACC_WIDTH ? LO_HALF : ACC_WIDTH - 1);
  localparam HI_BITS = ACC_WIDTH - LO_BITS;
  reg [HI_BITS-1:0] product_hi;
  reg carry_lo;
  wire [LO_BITS-1:0] acc_lo_now;
  wire [HI_BITS-1:0] acc_hi_now;
  wire [LO_BITS:0] sum_lo = {1'b0, acc_lo_now} + {1'b0, product[LO_BITS-1:0]} + {{LO_BITS{1'b0}}, carry};
  wire [HI_BITS-1:0] sum_hi = acc_hi_now + product_hi + {{(HI_BITS-1){1'b0}}, carry_lo};
  assign acc_next = {sum_hi, sum_lo[LO_BITS-1:0]};
  always @(posedge clk)
    if (accumulate) begin
      carry_lo <= sum_lo[LO_BITS];
      product_hi <= product[ACC_WIDTH-1:LO_BITS];
    end
  generate
    if (ROUNDS == 1) begin : one_round
      reg [LO_BITS-1:0] acc_lo;
      reg [HI_BITS-1:0] acc_hi;
      assign acc_lo_now = acc_lo;
      assign acc_hi_now = acc_hi;
      assign acc_all = {acc_hi, acc_lo};
      always @(posedge clk) begin
        if (restart) acc_lo <= init[LO_BITS-1:0];
        else if (accumulate) acc_lo <= sum_lo[LO_BITS-1:0];
        if (restart_hi) acc_hi <= init[ACC_WIDTH-1:LO_BITS];
        else if (accumulate_hi) acc_hi <= sum_hi;
      end
    end else begin : rounds
      reg [LO_BITS-1:0] acc_lo [0:ROUNDS-1];
      reg [HI_BITS-1:0] acc_hi [0:ROUNDS-1];
      assign acc_lo_now = acc_lo[round_c];
      assign acc_hi_now = acc_hi[round_d];
      genvar k;
      for (k = 0; k < ROUNDS; k = k + 1) begin : round
        assign acc_all[k*ACC_WIDTH +: ACC_WIDTH] = {acc_hi[k], acc_lo[k]};
        always @(posedge clk) begin
          if (restart) acc_lo[k] <= init[k*ACC_WIDTH +: LO_BITS];
          else if (accumulate && round_c == k) acc_lo[k] <= sum_lo[LO_BITS-1:0];
          if (restart_hi) acc_hi[k] <= init[k*ACC_WIDTH+LO_BITS +: HI_BITS];
          else if (accumulate_hi && round_d == k) acc_hi[k] <= sum_hi;
        end
      end
    end
  endgenerate
endmodule
