// Matrix-vector(-threshold) unit with FINN's MVAU stream semantics.
//
// y = W x for an MH x MW weight matrix W and an unsigned A_BITS-bit input vector x,
// folded onto PE x SIMD lanes: each input beat carries SIMD elements of x (element 0 in
// the least-significant bits), each output beat PE elements of y. A vector arrives in
// SF = MW / SIMD beats and leaves in NF = MH / PE beats; output beat nf holds channels
// nf*PE .. nf*PE + PE-1. The vector is buffered while it arrives (neuron fold 0) and
// read back for folds 1 .. NF-1, so one (nf, sf) pair is computed per cycle and a vector
// takes SF * NF cycles. The first output beat leaves 3 cycles after the vector's last
// input beat (4 with thresholds), plus DOT_STAGES: PIPE > 0 registers each PE's adder
// tree after every PIPE-th level (see qnnbench_adder), which shortens the longest path
// of a wide SIMD at the cost of those registers and DOT_STAGES cycles of latency. With
// thresholds PIPE > 0 also registers the comparisons before counting them: one cycle more.
//
// Output: T_BITS = 0 gives the signed ACC-bit accumulator per channel; T_BITS > 0 gives
// the unsigned count of the channel's 2^T_BITS - 1 thresholds t with acc >= t.
//
// Memories (word bit 0 = LSB; $readmemh, one hex word per line, address 0 first):
//   WEIGHT_FILE   NF*SF words, address nf*SF + sf. Weight (pe, s) of the word, which
//                 multiplies x[sf*SIMD + s] for channel nf*PE + pe, is the WB-bit field
//                 at bit (pe*SIMD + s) * WB. WB and the field's encoding: qnnbench_dot.
//   THRESH_FILE   T_BITS > 0: NF words, address nf. Threshold j of channel nf*PE + pe is
//                 the signed ACC-bit field at bit (pe*NT + j) * ACC, NT = 2^T_BITS - 1.
//   INIT_FILE     POT and T_BITS = 0: NF words, address nf. The accumulator of channel
//                 nf*PE + pe starts at the unsigned IB-bit field at bit pe * IB,
//                 IB = min(ACC, $clog2(MW + 1)), instead of at 0.
// All memories have a write port (w_wr_*, t_wr_*, i_wr_*) so that they can be reloaded
// at run time and so that synthesis treats them as memories, not as constants folded
// into the datapath. Tie the write enables low when the files are all there is.
//
// PoT weights: qnnbench_dot adds a negative weight's term as a ones' complement, so the
// accumulator of channel c ends at sum(w * x) - n_c, n_c = the channel's number of
// weights with the sign bit set. n_c depends on the weights alone and is folded into
// the memory contents instead of the datapath:
//   T_BITS > 0   THRESH_FILE holds t - n_c for each threshold t of channel c
//                (acc - n_c >= t - n_c exactly when acc >= t);
//   T_BITS = 0   INIT_FILE holds n_c, so the accumulator ends at sum(w * x).
// Integer weights need neither: their thresholds are stored as they are.
//
// Flow control: all stages advance together while the output register is free or being
// taken, so s_axis_tready depends combinationally on m_axis_tready (never on tvalid).
// Reset is synchronous, active low.
module qnnbench_mvu #(
  parameter int unsigned MW = 16,
  parameter int unsigned MH = 8,
  parameter int unsigned PE = 2,
  parameter int unsigned SIMD = 4,
  parameter int unsigned A_BITS = 4,
  parameter bit POT = 0,  // 0: signed W_BITS-bit weights, 1: power-of-two codes
  parameter int unsigned W_BITS = 4,
  parameter int unsigned POT_EXPS = 3,  // pot: exponents 0 .. POT_EXPS-1
  parameter int unsigned ACC_BITS = 0,  // 0: wide enough for any weights and inputs
  parameter int unsigned T_BITS = 0,
  parameter bit CHAIN = 0,  // adder structure, see qnnbench_adder
  parameter bit PIN = 1,  // build the adders as written, see qnnbench_adder
  parameter int unsigned PIPE = 0,  // adder levels per pipeline stage, 0: one stage
  parameter string WEIGHT_FILE = "mvu_weights.hex",
  parameter string THRESH_FILE = "mvu_thresholds.hex",
  parameter string INIT_FILE = "mvu_init.hex",
  localparam int unsigned SF = MW / SIMD,
  localparam int unsigned NF = MH / PE,
  localparam int unsigned KB = $clog2(POT_EXPS + 1),
  localparam int unsigned WB = POT ? 1 + KB : W_BITS,
  localparam int unsigned ACC_AUTO = POT ? A_BITS + POT_EXPS + $clog2(MW)
                                         : A_BITS + W_BITS + $clog2(MW),
  localparam int unsigned ACC = ACC_BITS > 0 ? ACC_BITS : ACC_AUTO,
  localparam int unsigned NT = (1 << T_BITS) - 1,
  localparam int unsigned OB = T_BITS > 0 ? T_BITS : ACC,
  localparam int unsigned WDEPTH = NF * SF,
  localparam int unsigned WAW = WDEPTH > 1 ? $clog2(WDEPTH) : 1,
  localparam int unsigned TAW = NF > 1 ? $clog2(NF) : 1,
  localparam int unsigned TWORD = T_BITS > 0 ? PE * NT * ACC : 1,
  localparam bit HAS_INIT = POT && T_BITS == 0,
  localparam int unsigned IB = ACC < $clog2(MW + 1) ? ACC : $clog2(MW + 1),
  localparam int unsigned IWORD = HAS_INIT ? PE * IB : 1
) (
  input  logic ap_clk,
  input  logic ap_rst_n,

  input  logic [SIMD*A_BITS-1:0] s_axis_tdata,
  input  logic s_axis_tvalid,
  output logic s_axis_tready,

  output logic [PE*OB-1:0] m_axis_tdata,
  output logic m_axis_tvalid,
  input  logic m_axis_tready,

  input  logic w_wr_en,
  input  logic [WAW-1:0] w_wr_addr,
  input  logic [PE*SIMD*WB-1:0] w_wr_data,
  input  logic t_wr_en,
  input  logic [TAW-1:0] t_wr_addr,
  input  logic [TWORD-1:0] t_wr_data,
  input  logic i_wr_en,
  input  logic [TAW-1:0] i_wr_addr,
  input  logic [IWORD-1:0] i_wr_data
);
  if (MW % SIMD != 0) $error("SIMD=%0d must divide MW=%0d", SIMD, MW);
  if (MH % PE != 0) $error("PE=%0d must divide MH=%0d", PE, MH);
  if (POT && POT_EXPS < 1) $error("POT_EXPS must be at least 1");
  if (PIPE > 0 && CHAIN) $error("PIPE needs the adder tree (CHAIN = 0)");

  localparam int unsigned SFW = SF > 1 ? $clog2(SF) : 1;
  localparam int unsigned NFW = NF > 1 ? $clog2(NF) : 1;
  // width of qnnbench_dot's result (see there)
  localparam int unsigned IW = POT ? A_BITS + POT_EXPS : A_BITS + W_BITS;
  localparam int unsigned DW = IW + $clog2(SIMD);
  // pipeline registers inside each PE's adder tree (see qnnbench_adder)
  localparam int unsigned DOT_STAGES = PIPE > 0 && SIMD > 2 ? ($clog2(SIMD) - 1) / PIPE : 0;

  // The pipeline advances when the output register can take a new beat.
  logic en;
  logic out_valid;
  assign en = !out_valid || m_axis_tready;

  // -- issue: one (nf, sf) pair per cycle; fold 0 takes the input stream -------------
  logic [SFW-1:0] sf;
  logic [NFW-1:0] nf;
  logic [WAW-1:0] waddr;
  logic fetch, issue;
  assign fetch = nf == '0;
  assign s_axis_tready = en && fetch;
  assign issue = en && (!fetch || s_axis_tvalid);

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) begin
      sf <= '0;
      nf <= '0;
      waddr <= '0;
    end else if (issue) begin
      sf <= (sf == SFW'(SF - 1)) ? '0 : sf + 1'b1;
      if (sf == SFW'(SF - 1)) nf <= (nf == NFW'(NF - 1)) ? '0 : nf + 1'b1;
      waddr <= (waddr == WAW'(WDEPTH - 1)) ? '0 : waddr + 1'b1;
    end
  end

  // -- stage 1: weights and activations registered -----------------------------------
  logic [PE*SIMD*WB-1:0] wmem [WDEPTH];
  initial $readmemh(WEIGHT_FILE, wmem);
  always_ff @(posedge ap_clk) begin
    if (w_wr_en) wmem[w_wr_addr] <= w_wr_data;
  end

  logic v1, first1, last1;
  logic [NFW-1:0] nf1;
  logic [SIMD*A_BITS-1:0] act1;
  logic [PE-1:0][SIMD*WB-1:0] wgt1;
  logic [SIMD*A_BITS-1:0] buffered;

  if (NF > 1) begin : g_buffer
    logic [SIMD*A_BITS-1:0] ibuf [SF];
    always_ff @(posedge ap_clk) begin
      if (issue && fetch) ibuf[sf] <= s_axis_tdata;
    end
    assign buffered = ibuf[sf];
  end else begin : g_no_buffer
    assign buffered = s_axis_tdata;
  end

  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) v1 <= 1'b0;
    else if (en) v1 <= issue;
    if (issue) begin
      act1 <= fetch ? s_axis_tdata : buffered;
      wgt1 <= wmem[waddr];
      first1 <= sf == '0;
      last1 <= sf == SFW'(SF - 1);
      nf1 <= nf;
    end
  end

  // -- stage 2: one dot product of SIMD terms per PE (DOT_STAGES more with PIPE) ------
  logic signed [DW-1:0] dot_c [PE];
  for (genvar p = 0; p < PE; p++) begin : g_pe
    qnnbench_dot #(
      .SIMD(SIMD), .A_BITS(A_BITS), .POT(POT), .W_BITS(W_BITS), .POT_EXPS(POT_EXPS),
      .CHAIN(CHAIN), .PIN(PIN), .PIPE(PIPE)
    ) u_dot (.clk(ap_clk), .en(en), .act(act1), .wgt(wgt1[p]), .dot(dot_c[p]));
  end

  // the beat's control travels beside its dot products through the tree's registers
  logic vd, firstd, lastd;
  logic [NFW-1:0] nfd;
  if (DOT_STAGES == 0) begin : g_no_delay
    assign vd = v1;
    assign firstd = first1;
    assign lastd = last1;
    assign nfd = nf1;
  end else begin : g_delay
    logic [DOT_STAGES-1:0] vq, fq, lq;
    logic [NFW-1:0] nq [DOT_STAGES];
    always_ff @(posedge ap_clk) begin
      if (!ap_rst_n) vq <= '0;
      else if (en) vq <= {vq, v1};
      if (en) begin
        fq <= {fq, first1};
        lq <= {lq, last1};
        nq[0] <= nf1;
        for (int i = 1; i < DOT_STAGES; i++) nq[i] <= nq[i-1];
      end
    end
    assign vd = vq[DOT_STAGES-1];
    assign firstd = fq[DOT_STAGES-1];
    assign lastd = lq[DOT_STAGES-1];
    assign nfd = nq[DOT_STAGES-1];
  end

  logic v2, first2, last2;
  logic [NFW-1:0] nf2;
  logic signed [DW-1:0] dot2 [PE];
  always_ff @(posedge ap_clk) begin
    if (!ap_rst_n) v2 <= 1'b0;
    else if (en) v2 <= vd;
    if (en && vd) begin
      dot2 <= dot_c;
      first2 <= firstd;
      last2 <= lastd;
      nf2 <= nfd;
    end
  end

  // -- stage 3: accumulate over the SF beats of a neuron fold --------------------------
  logic signed [ACC-1:0] acc [PE];
  logic signed [ACC-1:0] acc_next [PE];
  logic done;
  assign done = v2 && last2;
  // where the first beat of a neuron fold starts: 0, or (PoT without thresholds) the
  // channel's count of negative weights, which the dot products left out
  logic [PE-1:0][IB-1:0] start;
  if (HAS_INIT) begin : g_init
    logic [PE-1:0][IB-1:0] imem [NF];
    initial $readmemh(INIT_FILE, imem);
    always_ff @(posedge ap_clk) begin
      if (i_wr_en) imem[i_wr_addr] <= i_wr_data;
    end
    assign start = imem[nf2];
  end else begin : g_no_init
    assign start = '0;
  end
  for (genvar p = 0; p < PE; p++) begin : g_acc
    assign acc_next[p] = (first2 ? ACC'(start[p]) : acc[p]) + ACC'(dot2[p]);
  end
  always_ff @(posedge ap_clk) begin
    if (en && v2) acc <= acc_next;
  end

  logic [PE-1:0][OB-1:0] out_data;
  assign m_axis_tdata = out_data;
  assign m_axis_tvalid = out_valid;

  if (T_BITS == 0) begin : g_acc_out
    always_ff @(posedge ap_clk) begin
      if (!ap_rst_n) out_valid <= 1'b0;
      else if (en) out_valid <= done;
      if (en && done) begin
        for (int p = 0; p < PE; p++) out_data[p] <= acc_next[p];
      end
    end
  end else begin : g_thresholds
    // -- stage 4: count the thresholds each accumulator reaches -----------------------
    logic [PE-1:0][NT-1:0][ACC-1:0] tmem [NF];
    initial $readmemh(THRESH_FILE, tmem);
    always_ff @(posedge ap_clk) begin
      if (t_wr_en) tmem[t_wr_addr] <= t_wr_data;
    end

    logic v3;
    logic signed [ACC-1:0] acc3 [PE];
    logic [PE-1:0][NT-1:0][ACC-1:0] thr3;
    always_ff @(posedge ap_clk) begin
      if (!ap_rst_n) v3 <= 1'b0;
      else if (en) v3 <= done;
      if (en && done) begin
        acc3 <= acc_next;
        thr3 <= tmem[nf2];
      end
    end

    logic [PE-1:0][OB-1:0] count;
    if (PIPE == 0) begin : g_count
      always_comb begin
        for (int p = 0; p < PE; p++) begin
          count[p] = '0;
          for (int j = 0; j < NT; j++) begin
            count[p] = count[p] + OB'(acc3[p] >= $signed(thr3[p][j]));
          end
        end
      end

      always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) out_valid <= 1'b0;
        else if (en) out_valid <= v3;
        if (en && v3) out_data <= count;
      end
    end else begin : g_compare_then_count
      // pipelined unit: the NT comparisons are registered before they are counted (one
      // more cycle), else the compare-and-count is its longest path once the tree is cut
      logic v4;
      logic [PE-1:0][NT-1:0] reached;
      always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) v4 <= 1'b0;
        else if (en) v4 <= v3;
        if (en && v3) begin
          for (int p = 0; p < PE; p++) begin
            for (int j = 0; j < NT; j++) reached[p][j] <= acc3[p] >= $signed(thr3[p][j]);
          end
        end
      end
      always_comb begin
        for (int p = 0; p < PE; p++) begin
          count[p] = '0;
          for (int j = 0; j < NT; j++) count[p] = count[p] + OB'(reached[p][j]);
        end
      end

      always_ff @(posedge ap_clk) begin
        if (!ap_rst_n) out_valid <= 1'b0;
        else if (en) out_valid <= v4;
        if (en && v4) out_data <= count;
      end
    end
  end
endmodule
