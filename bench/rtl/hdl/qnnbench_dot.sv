// Dot product of SIMD unsigned A_BITS-bit activations with SIMD weights (one PE lane).
//
// POT = 0 (integer): weight field = signed W_BITS-bit two's complement; term = w * a.
//   The dot product is exact.
// POT = 1 (power of two): weight field of WB = 1 + KB bits, KB = $clog2(POT_EXPS + 1),
// LSB first:
//     bit 0       sign s (1 = negative)
//     bits 1..KB  exponent code c: c < POT_EXPS means 2^c; c = POT_EXPS means 0
//   value = c < POT_EXPS ? (s ? -1 : +1) * 2^c : 0. The zero weight takes the one code
//   beyond the exponents instead of a flag bit of its own, so the field grows by a bit
//   only where POT_EXPS + 1 needs it. Codes above POT_EXPS read as 0 too; the encoder
//   writes zero as c = POT_EXPS, s = 0.
//   The term is a shifted by c (a POT_EXPS-way mux, no multiplier), XORed with s: a
//   negative term is its ones' complement, x ^ -1 = -x - 1. The lane therefore computes
//       dot = sum(w * a) - (number of weights with s = 1),
//   and the missing count is not added here: it depends on the weights only, so the
//   unit folds it into its memory contents (see qnnbench_mvu). That keeps each term a
//   plain shift, mux and XOR, and the adder exactly SIMD terms wide.
//
// The terms are summed exactly by qnnbench_adder (tree or chain: CHAIN, PIN; pipeline
// registers in the tree: PIPE, clocked by `clk` while `en`).
module qnnbench_dot #(
  parameter int unsigned SIMD = 8,
  parameter int unsigned A_BITS = 4,
  parameter bit POT = 0,
  parameter int unsigned W_BITS = 4,
  parameter int unsigned POT_EXPS = 3,
  parameter bit CHAIN = 0,
  parameter bit PIN = 1,
  parameter int unsigned PIPE = 0,
  localparam int unsigned KB = $clog2(POT_EXPS + 1),
  localparam int unsigned WB = POT ? 1 + KB : W_BITS,
  // a << (POT_EXPS - 1) has A_BITS + POT_EXPS - 1 bits, its ones' complement one more
  localparam int unsigned IW = POT ? A_BITS + POT_EXPS : A_BITS + W_BITS,
  localparam int unsigned DW = IW + $clog2(SIMD)
) (
  input  logic clk,
  input  logic en,
  input  logic [SIMD-1:0][A_BITS-1:0] act,
  input  logic [SIMD-1:0][WB-1:0] wgt,
  output logic signed [DW-1:0] dot
);
  logic [SIMD-1:0][IW-1:0] terms;

  if (POT) begin : g_pot
    localparam int unsigned XW = A_BITS + POT_EXPS - 1;  // width of a << (POT_EXPS - 1)
    for (genvar i = 0; i < SIMD; i++) begin : g_lane
      logic s;
      logic [KB-1:0] c;
      logic [XW-1:0] x;
      assign s = wgt[i][0];
      assign c = wgt[i][1 +: KB];
      always_comb begin
        x = '0;  // the zero code (and any code past the exponents)
        for (int e = 0; e < POT_EXPS; e++) begin
          if (c == KB'(e)) x = XW'(act[i]) << e;
        end
      end
      assign terms[i] = IW'(x) ^ {IW{s}};
    end
  end else begin : g_int
    for (genvar i = 0; i < SIMD; i++) begin : g_lane
      logic signed [IW-1:0] p;
      assign p = $signed(wgt[i]) * $signed({1'b0, act[i]});
      assign terms[i] = p;
    end
  end

  qnnbench_adder #(.N(SIMD), .IW(IW), .CHAIN(CHAIN), .PIN(PIN), .PIPE(PIPE)) u_sum (
    .clk(clk), .en(en), .terms(terms), .sum(dot));
endmodule
