// Max pooling unit with the stream semantics of FINN's Pool layer (Function "MaxPool").
//
// In FINN's graphs a max pool is a depthwise sliding-window generator followed by a Pool
// node. The generator streams, per output pixel, the channel folds outermost: for each
// fold f = 0 .. C/PE-1 the KH*KW window positions in turn, each one beat of PE channels
// f*PE .. f*PE+PE-1 (element 0 in the least-significant bits). WINDOW = KH*KW beats of
// the same channels are therefore always adjacent, and the unit needs neither the image
// size nor the channel count: every WINDOW consecutive input beats give one output beat,
// the lane-wise maximum, which is exactly the stream FINN's Pool produces ((pixel, fold)
// order, PE channels per beat). The preceding generator's SIMD must equal PE.
//
// Elements are BITS-bit integers, two's complement when SIGNED = 1. A bipolar stream
// (packed as FINN packs it, 1 for +1 and 0 for -1) pools correctly as unsigned 1-bit.
//
// Timing: one input beat per cycle; a window's maximum is offered the cycle after its
// last input beat, so an image takes exactly as many cycles as it has input beats
// (FINN's expected cycles for the Pool node).
//
// One register per lane holds the running maximum and, once the window is complete, the
// result: it is the output register. While a result waits for m_axis_tready no input is
// taken; the beat that arrives as the result leaves starts the next window. So
// s_axis_tready depends combinationally on m_axis_tready (never on s_axis_tvalid), and
// the unit holds PE * BITS flip-flops of data, not twice that. Reset is synchronous,
// active low.
module qnnbench_maxpool #(
  parameter int unsigned PE = 4,
  parameter int unsigned BITS = 2,
  parameter bit SIGNED = 0,
  parameter int unsigned WINDOW = 4  // KH * KW window elements per output element
) (
  input  logic ap_clk,
  input  logic ap_rst_n,

  input  logic [PE*BITS-1:0] s_axis_tdata,
  input  logic s_axis_tvalid,
  output logic s_axis_tready,

  output logic [PE*BITS-1:0] m_axis_tdata,
  output logic m_axis_tvalid,
  input  logic m_axis_tready
);
  if (PE < 1 || BITS < 1 || WINDOW < 1) $error("PE, BITS and WINDOW must be at least 1");

  localparam int unsigned KW = WINDOW > 1 ? $clog2(WINDOW) : 1;

  logic [KW-1:0] k;  // position of the next input beat within its window
  logic first, last, take;
  assign first = k == '0;
  assign last = k == KW'(WINDOW - 1);
  assign s_axis_tready = !m_axis_tvalid || m_axis_tready;
  assign take = s_axis_tvalid && s_axis_tready;

  logic [PE-1:0][BITS-1:0] in, best, larger;
  assign in = s_axis_tdata;
  assign m_axis_tdata = best;

  // Lane-wise maximum of the beat and the window's running maximum; the first beat of
  // a window starts it afresh (so nothing needs clearing between windows).
  for (genvar p = 0; p < PE; p++) begin : g_lane
    logic above;
    if (SIGNED) begin : g_signed
      assign above = $signed(in[p]) > $signed(best[p]);
    end else begin : g_unsigned
      assign above = in[p] > best[p];
    end
    assign larger[p] = (first || above) ? in[p] : best[p];
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      k <= '0;
      m_axis_tvalid <= 1'b0;
    end else begin
      if (take) k <= last ? '0 : k + 1'b1;
      m_axis_tvalid <= (take && last) || (m_axis_tvalid && !m_axis_tready);
    end
    if (take) best <= larger;
  end
endmodule
