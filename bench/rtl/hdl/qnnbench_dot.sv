// Dot product of SIMD unsigned A_BITS-bit activations with SIMD weights (one PE lane).
//
// POT = 0 (integer): weight field = signed W_BITS-bit two's complement; term = w * a.
// POT = 1 (power of two): weight field of 2 + KB bits, LSB first:
//     bit 0       sign s (1 = negative)
//     bit 1       zero flag z (1 = the weight is 0; s is then ignored)
//     bits 2..    exponent k, 0 <= k < POT_EXPS, in KB bits
//   value = z ? 0 : (s ? -1 : +1) * 2^k; the term is a shifted by k, no multiplier.
//   A negative term is added as its ones' complement (x ^ -1 = -x - 1); the missing +1
//   of every negative term is added once, as the count of negative weights, by one
//   extra adder term. That keeps each term a plain shift, mux and XOR.
//
// The terms are summed exactly by qnnbench_adder (tree or chain: CHAIN, PIN).
module qnnbench_dot #(
  parameter int unsigned SIMD = 8,
  parameter int unsigned A_BITS = 4,
  parameter bit POT = 0,
  parameter int unsigned W_BITS = 4,
  parameter int unsigned POT_EXPS = 3,
  parameter bit CHAIN = 0,
  parameter bit PIN = 1,
  localparam int unsigned KB = POT_EXPS > 1 ? $clog2(POT_EXPS) : 1,
  localparam int unsigned WB = POT ? 2 + KB : W_BITS,
  localparam int unsigned CW = $clog2(SIMD + 1) + 1,  // signed count of negative weights
  localparam int unsigned IW = POT ? ((A_BITS + POT_EXPS > CW) ? A_BITS + POT_EXPS : CW)
                                   : A_BITS + W_BITS,
  localparam int unsigned NT = POT ? SIMD + 1 : SIMD,
  localparam int unsigned DW = IW + $clog2(NT)
) (
  input  logic [SIMD-1:0][A_BITS-1:0] act,
  input  logic [SIMD-1:0][WB-1:0] wgt,
  output logic signed [DW-1:0] dot
);
  logic [NT-1:0][IW-1:0] terms;

  if (POT) begin : g_pot
    localparam int unsigned XW = A_BITS + POT_EXPS - 1;  // width of a << (POT_EXPS - 1)
    logic [SIMD-1:0] neg;
    for (genvar i = 0; i < SIMD; i++) begin : g_lane
      logic s, z;
      logic [KB-1:0] k;
      logic [XW-1:0] x;
      assign s = wgt[i][0];
      assign z = wgt[i][1];
      assign k = wgt[i][2 +: KB];
      always_comb begin
        x = '0;
        for (int e = 0; e < POT_EXPS; e++) begin
          if (k == KB'(e)) x = XW'(act[i]) << e;
        end
        if (z) x = '0;
      end
      assign neg[i] = s & ~z;
      assign terms[i] = IW'(x) ^ {IW{neg[i]}};
    end
    always_comb begin
      terms[SIMD] = '0;
      for (int i = 0; i < SIMD; i++) terms[SIMD] = terms[SIMD] + IW'(neg[i]);
    end
  end else begin : g_int
    for (genvar i = 0; i < SIMD; i++) begin : g_lane
      logic signed [IW-1:0] p;
      assign p = $signed(wgt[i]) * $signed({1'b0, act[i]});
      assign terms[i] = p;
    end
  end

  qnnbench_adder #(.N(NT), .IW(IW), .CHAIN(CHAIN), .PIN(PIN)) u_sum (.terms(terms), .sum(dot));
endmodule
