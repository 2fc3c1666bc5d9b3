"""The clock check: Fmax estimated from ABC9's logic delay with a routing allowance
fitted on ECP5 (`bench.rtl.timing`, `bench.rtl.timing_fit`), and how records, the console
and the reports carry it."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_collect import make_record, rtl_record

from bench.core.record import Record, scalar_columns
from bench.report.collect import records_to_frame
from bench.rtl import timing, timing_fit


def test_stored_fit_is_what_the_code_fits_from_the_stored_measurements():
    """timing_fit.json's forms, chosen form and spread follow from its measurements with
    today's code: a change to the fit needs `python -m bench.rtl.timing_fit --refit`."""
    model = timing.load_allowance()
    refit = timing_fit.fit(model["measured"])
    assert refit["chosen"]["form"] == model["chosen"]["form"]
    for name, fit in [*refit["forms"].items(), ("chosen", refit["chosen"])]:
        stored = model["forms"][name] if name in model["forms"] else model["chosen"]
        assert fit["params"] == pytest.approx(stored["params"], abs=1e-4), name
        errors = {k: v for k, v in fit.items() if k.endswith("_error")}
        assert errors == pytest.approx({k: stored[k] for k in errors}, abs=1e-4), name
    assert refit["ratio_spread"] == pytest.approx(model["ratio_spread"])
    fitted = [m for m in model["measured"] if m.get("fitted", True)]
    assert len(fitted) >= 8
    assert all(m["path_from"] != "DP16KD" for m in fitted)


def test_every_fitted_form_goes_through_the_stored_designs():
    """Each form's parameters reproduce the stored periods to within its stated error."""
    model = timing.load_allowance()
    rows = [m for m in model["measured"] if m.get("fitted", True)]
    for form, fit in model["forms"].items():
        for m in rows:
            period = timing.period_from(form, fit["params"], m["ecp5_logic_delay"])
            error = abs(period - m["routed_period_ns"]) / m["routed_period_ns"]
            assert error <= fit["fit_max_abs_error"] + 1e-3, (form, m["config"])


def test_estimate_on_a_stored_logic_delay():
    model = {"chosen": {"form": "ratio", "params": {"k": 2.5}}}
    assert timing.fmax_est_mhz(4.0, model) == 100.0  # 4 ns x 2.5 = 10 ns
    affine = {"chosen": {"form": "affine", "params": {"a": 2.0, "b": 2.0}}}
    assert timing.fmax_est_mhz(4.0, affine) == 100.0
    offset = {"chosen": {"form": "offset", "params": {"c": 6.0}}}
    assert timing.fmax_est_mhz(4.0, offset) == 100.0
    assert timing.fmax_est_mhz(None, model) is None and timing.fmax_est_mhz(0.0, model) is None
    # the stored fit: a longer logic path can only be slower
    assert timing.fmax_est_mhz(2.0) > timing.fmax_est_mhz(4.0) > timing.fmax_est_mhz(8.0)


def test_clock_check_scales_fps_only_when_the_clock_is_out_of_reach():
    slow = timing.clock_check(50.0, clk_ns=10.0, fps=1000.0)  # 100 MHz asked
    assert slow == {"fmax_est_mhz": 50.0, "clock_plausible": False, "est_fps_at_fmax": 500.0}
    fast = timing.clock_check(150.0, clk_ns=10.0, fps=1000.0)
    assert fast["clock_plausible"] is True and fast["est_fps_at_fmax"] == 1000.0
    assert timing.clock_check(None, 10.0, 1000.0)["clock_plausible"] is None


def test_design_delay_prefers_the_stitched_top():
    rows = [{"logic_delay": 3.0}, {"logic_delay": 5.0}, {"node": "hls"}]
    assert timing.design_logic_delay(rows, None) == (5.0, "slowest layer")
    assert timing.design_logic_delay(rows, {"logic_delay": 6.5}) == (6.5, "stitched")
    assert timing.design_logic_delay(rows, {"logic_delay": None}) == (5.0, "slowest layer")
    assert timing.design_logic_delay([{}], None) == (None, "")


class _Ctx(SimpleNamespace):
    """The part of a run's context the RTL stages' record functions read."""

    def __getitem__(self, stage: str):
        return self.artifacts[stage]


def test_a_clock_above_the_estimate_is_flagged_in_the_record():
    """The RTL stages' record functions on measured rows (2 ns of logic at most: about
    170 MHz with the stored allowance): 1 ns (1 GHz) is flagged, 10 ns is not, and the
    stitched top's delay replaces the layers'."""
    from bench.stages.rtl_measure import _rtl_fields
    from bench.stages.rtl_stitch import _stitch_fields

    layers = [{**row, "logic_delay": 1.0 + 0.5 * i} for i, row in
              enumerate(r for r in rtl_record(4)["rtl_layers"] if "lut" in r)]
    meta = {"layers": layers, "tool_versions": {}}
    for clk_ns, plausible in ((1.0, False), (10.0, True)):
        ctx = _Ctx(spec=SimpleNamespace(clk_ns=clk_ns, dsp="auto"),
                   artifacts={"estimate": SimpleNamespace(per_layer={}, fps=2000.0),
                              "rtl_measure": meta})
        fields = _rtl_fields(ctx, meta)
        assert fields["clock_plausible"] is plausible
        assert fields["fmax_est_mhz"] == timing.fmax_est_mhz(2.0)  # the slowest layer
        assert fields["fmax_est_source"] == "slowest layer"
        assert [r["fmax_est_mhz"] for r in fields["rtl_layers"]] == [
            timing.fmax_est_mhz(d) for d in (1.0, 1.5, 2.0)]
        fps = 2000.0 * min(1.0, fields["fmax_est_mhz"] * clk_ns / 1000.0)
        assert fields["est_fps_at_fmax"] == pytest.approx(fps, rel=1e-3)
    stitched = {"sim_ok": True, "fps": 10.0, "cycles_per_image": 1.0, "latency_cycles": 3,
                "lut": 1, "lutram": 0, "ff": 1, "bram18": 0, "dsp": 0, "logic_delay": 6.0,
                "stalled": {"sim_ok": True, "fps": 5.0}}
    fields = _stitch_fields(ctx, {"stitched": stitched})
    assert fields["fmax_est_source"] == "stitched"
    assert fields["fmax_est_mhz"] == timing.fmax_est_mhz(6.0)
    Record.model_validate(make_record(4, 4, **fields))  # every field is declared


def test_clock_fields_are_typed_columns():
    columns = scalar_columns()
    assert columns["fmax_est_mhz"] == "float" and columns["est_fps_at_fmax"] == "float"
    assert columns["clock_plausible"] == "bool" and columns["fmax_est_source"] == "str"


def test_console_flags_an_implausible_clock(tmp_path: Path):
    from rich.console import Console

    from bench.report.console import print_run_summary
    from bench.run.point import RunOutcome

    for plausible, shown in ((False, "IMPLAUSIBLE"), (True, "plausible")):
        data = make_record(4, 4, clk_ns=1.0 if not plausible else 10.0, fmax_est_mhz=80.0,
                           fmax_est_source="slowest layer", clock_plausible=plausible,
                           est_fps_at_fmax=123.0)
        out = io.StringIO()
        print_run_summary(RunOutcome(Record.model_validate(data), tmp_path / "r.json",
                                     cached=False), Console(file=out, width=250))
        text = out.getvalue()
        assert "clock (est.)" in text and shown in text and "80 MHz" in text
        assert ("123 FPS" in text) is not plausible


def test_reports_show_the_estimate_beside_the_measured_columns():
    from bench.report.measured import rtl_stitched_table, rtl_table

    layers = [{**r, "fmax_est_mhz": 90.0 + i} for i, r in enumerate(rtl_record(4)["rtl_layers"])]
    record = {**rtl_record(4), "rtl_layers": layers}
    table = rtl_table(records_to_frame([record]))
    column = table.header.index("Fmax est. (MHz)")
    assert [row[column] for row in table.rows] == ["90", "91"]  # per type: the slowest
    stitched = {**record, "rtl_stitched_ok": True, "rtl_fps": 10.0, "fmax_est_mhz": 75.0,
                "clock_plausible": False}
    row = dict(zip(*[rtl_stitched_table(records_to_frame([stitched])).header,
                     rtl_stitched_table(records_to_frame([stitched])).rows[0]], strict=True))
    assert row["Fmax est. (MHz)"] == "75" and row["clock"] == "too fast"


@pytest.mark.slow
def test_tfc_at_one_ghz_is_flagged_end_to_end(tmp_path):
    """A real `--target rtl` run asking 1 GHz: far above what any layer's logic reaches."""
    from bench.core.spec import make_spec
    from bench.engine.store import Store
    from bench.run.point import run_point

    spec = make_spec(model="tfc", dataset="digits", weight_bits=4, act_bits=4, epochs=1,
                     pe=4, target="rtl", clk_ns=1.0)
    record = run_point(spec, Store(tmp_path / "results"), show_progress=False).record
    assert record.status == "ok", record.error
    assert record.clock_plausible is False and record.fmax_est_source == "slowest layer"
    delays = [r["logic_delay"] for r in record.rtl_layers if r.get("logic_delay")]
    assert record.fmax_est_mhz == timing.fmax_est_mhz(max(delays)) < 1000.0
    assert record.est_fps_at_fmax == pytest.approx(
        record.est_fps * record.fmax_est_mhz / 1000.0, rel=1e-3)
    assert all(r["fmax_est_mhz"] for r in record.rtl_layers if "lut" in r)
