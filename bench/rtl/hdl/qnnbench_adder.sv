// Sum of N signed IW-bit terms, exact: the result has IW + $clog2(N) bits.
//
// CHAIN = 0: balanced binary tree, $clog2(N) adder levels; level l adds pairs of
//            (IW + l)-bit values into (IW + l + 1) bits, an odd one passes through.
// CHAIN = 1: linear chain, term i is added to the running sum of terms 0..i-1, whose
//            width grows as IW + $clog2(i + 1). Fewer wide adders, longer carry path.
// Adders are sized per level or step so that neither structure pays for full-width adds.
//
// PIN = 1 marks every partial sum `keep`, so synthesis builds the adders as written.
// PIN = 0 lets it re-associate the whole sum; Yosys then merges it (and, for integer
// weights, the multipliers' partial products) into one multi-operand adder of full-adder
// rows and a final carry chain, which in our measurements costs more LUTs than the
// pinned tree. See README.md for the numbers.
//
// PIPE > 0 (tree only) registers the values after every PIPE-th level, all but the last:
// the sum then leaves STAGES = ($clog2(N) - 1) / PIPE cycles after its terms, and a
// path crosses at most PIPE adder levels (the first stage also has the terms' logic).
// The registers advance on `en`. PIPE = 0: one combinational tree, `clk`/`en` unused.
module qnnbench_adder #(
  parameter int unsigned N = 8,
  parameter int unsigned IW = 8,
  parameter bit CHAIN = 0,
  parameter bit PIN = 1,
  parameter int unsigned PIPE = 0,
  localparam int unsigned OW = IW + $clog2(N)
) (
  input  logic clk,
  input  logic en,
  input  logic [N-1:0][IW-1:0] terms,
  output logic signed [OW-1:0] sum
);
  if (PIPE > 0 && CHAIN) $error("PIPE needs the adder tree (CHAIN = 0)");

  if (N == 1) begin : g_single
    assign sum = OW'($signed(terms[0]));
  end else if (CHAIN) begin : g_chain
    logic signed [OW-1:0] part [N];
    assign part[0] = OW'($signed(terms[0]));
    for (genvar i = 1; i < N; i++) begin : g_step
      localparam int unsigned PW = IW + $clog2(i);  // width of part[i-1]
      localparam int unsigned SW = IW + $clog2(i + 1);  // width of part[i]
      if (PIN) begin : g_pin
        (* keep *) logic signed [SW-1:0] s;
        assign s = $signed(part[i-1][PW-1:0]) + $signed(terms[i]);
        assign part[i] = OW'(s);
      end else begin : g_free
        logic signed [SW-1:0] s;
        assign s = $signed(part[i-1][PW-1:0]) + $signed(terms[i]);
        assign part[i] = OW'(s);
      end
    end
    assign sum = part[N-1];
  end else begin : g_tree
    localparam int unsigned L = $clog2(N);
    logic signed [OW-1:0] node [L+1][N];
    for (genvar j = 0; j < N; j++) begin : g_leaf
      assign node[0][j] = OW'($signed(terms[j]));
    end
    for (genvar l = 0; l < L; l++) begin : g_level
      localparam int unsigned CNT = (N + (1 << l) - 1) >> l;  // nodes at level l
      localparam int unsigned LW = IW + l;  // width of the values at level l
      localparam bit REG = PIPE > 0 && (l + 1) % PIPE == 0 && l + 1 < L;
      for (genvar j = 0; j < (CNT + 1) / 2; j++) begin : g_node
        if (2 * j + 1 < CNT && PIN) begin : g_pin
          (* keep *) logic signed [LW:0] s;
          assign s = $signed(node[l][2*j][LW-1:0]) + $signed(node[l][2*j+1][LW-1:0]);
          if (REG) begin : g_reg
            logic signed [LW:0] q;
            always_ff @(posedge clk) if (en) q <= s;
            assign node[l+1][j] = OW'(q);
          end else begin : g_comb
            assign node[l+1][j] = OW'(s);
          end
        end else if (2 * j + 1 < CNT) begin : g_free
          logic signed [LW:0] s;
          assign s = $signed(node[l][2*j][LW-1:0]) + $signed(node[l][2*j+1][LW-1:0]);
          if (REG) begin : g_reg
            logic signed [LW:0] q;
            always_ff @(posedge clk) if (en) q <= s;
            assign node[l+1][j] = OW'(q);
          end else begin : g_comb
            assign node[l+1][j] = OW'(s);
          end
        end else if (REG) begin : g_pass_reg
          logic signed [LW-1:0] q;
          always_ff @(posedge clk) if (en) q <= node[l][2*j][LW-1:0];
          assign node[l+1][j] = OW'(q);
        end else begin : g_pass
          assign node[l+1][j] = node[l][2*j];
        end
      end
    end
    assign sum = node[L][0];
  end
endmodule
