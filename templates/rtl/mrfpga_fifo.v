// A FIFO of DEPTH words with a valid/ready handshake on each side, as an hls::stream of that depth: a word
// written in one cycle can be read from the next; a slot freed by a read takes a write from the next cycle.
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
  reg [WIDTH-1:0] words [0:DEPTH-1];
  reg [COUNT_BITS-1:0] count, head, tail;
  assign in_ready = count != DEPTH;
  assign out_valid = count != 0;
  assign out_data = words[head];
  wire push = in_valid && in_ready;
  wire pop = out_valid && out_ready;
  always @(posedge clk) begin
    if (rst) begin
      count <= 0; head <= 0; tail <= 0;
    end else begin
      if (push) begin
        words[tail] <= in_data;
        tail <= tail == DEPTH - 1 ? 0 : tail + 1'b1;
      end
      if (pop) head <= head == DEPTH - 1 ? 0 : head + 1'b1;
      count <= count + push - pop;
    end
  end
endmodule
