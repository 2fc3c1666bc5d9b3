"""Bad input: one line on stderr naming what is allowed, exit code 2, nothing written."""

import subprocess
import sys

import pytest

from bench.cli import main
from bench.core.spec import MODEL_NAMES, WEIGHT_QUANTS, make_spec

BAD_ARGS = [
    (["--bits", "0"], "1..8"),
    (["--bits", "9"], "1..8"),
    (["--bits", "abc"], "1..8"),
    (["--wbits", "2.5"], "1..8"),
    (["--pe", "0"], "1..65536"),
    (["--pe", "-3"], "1..65536"),
    (["--pe", "x"], "an integer in 1..65536"),
    (["--simd", "0"], "1..65536"),
    (["--model", "resnet"], "allowed: tfc"),
    (["--board", "Alveo"], "allowed: Pynq-Z1"),
    (["--dataset", "imagenet"], "allowed: digits"),
    (["--epochs", "0"], "1..100000"),
    (["--quant", "float"], "allowed: int"),
    (["--clk-ns", "-1"], "0.5..100"),
    (["--data-dir", "/nonexistent/dir"], "not a directory"),
    (["--quant", "pot", "--bits", "6"], "pot weights need 1..5 bits"),
    (["--input-size", "0"], "1..1024"),
    (["--input-size", "x"], "an integer in 1..1024"),
    (["--model", "cnv", "--input-size", "32"], "input_size applies to the MLPs"),
]


@pytest.mark.parametrize(("args", "hint"), BAD_ARGS)
def test_bad_input_is_one_line_and_exit_2(args, hint, tmp_path, capsys):
    results = tmp_path / "results"
    code = main(["run", *args, "--results-dir", str(results)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("qnnbench: error:") and err.count("\n") == 1, err
    assert hint in err
    assert not results.exists()


def test_bad_input_from_a_real_process_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench.cli", "run", "--bits", "9", "--results-dir",
         str(tmp_path / "r")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "qnnbench: error: weight_bits: must be in 1..8, got 9; act_bits: must be in 1..8, got 9"
    ]


def test_unknown_option_is_one_line(capsys):
    assert main(["run", "--bogus", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("qnnbench: error: ")


def test_spec_names_match_the_model_registry():
    import models

    assert set(MODEL_NAMES) == set(models.MODELS)
    assert set(WEIGHT_QUANTS) == set(models.WEIGHT_QUANTIZERS)
    from bench.core.spec import POT_MAX_BITS
    from models.quantizers import POT_MAX_BITS as MODELS_POT_MAX_BITS

    assert POT_MAX_BITS == MODELS_POT_MAX_BITS


def test_run_id_depends_on_everything_but_data_dir():
    base = make_spec()
    assert make_spec(data_dir="/tmp").run_id() == base.run_id()
    assert make_spec(pe=8).run_id() != base.run_id()
    assert make_spec(seed=1).run_id() != base.run_id()
    assert make_spec(simd=4).run_id() == base.run_id()  # SIMD defaults to PE (4)
    padded = make_spec(input_size=32)
    assert padded.run_id() != base.run_id() and "-in32-" in padded.run_id()
    assert padded.training_fields()["input_size"] == 32


def test_native_geometry_keeps_the_ids_of_earlier_versions():
    """Runs and cached models from before input_size existed keep their ids."""
    from bench.core.spec import stable_hash

    spec = make_spec()
    assert "input_size" not in spec.identity_fields()
    assert "input_size" not in spec.training_fields()
    assert spec.run_id().endswith(stable_hash(spec.identity_fields())[:10])
    assert spec.run_id().startswith("tfc-digits-w4a4-int-pe4simd4-Pynq-Z1-")


@pytest.mark.parametrize("args,message", [
    (["--pe", "99999999999999999999"], "pe: must be in 1..65536"),
    (["--seed", "1e20"], "seed: must be an integer in 0..4294967295"),
    (["--seed", str(2**32)], "seed: must be in 0..4.29497e+09"),
    (["--clk-ns", "inf"], "clk_ns: must be in 0.5..100"),
    (["--clk-ns", "1e-300"], "clk_ns: must be in 0.5..100"),
    (["--clk-ns", "nan"], "clk_ns: must be in 0.5..100"),
    (["--epochs", "1000000"], "epochs: must be in 1..100000"),
    (["--bits", "4", "--wbits", "2"], "not both"),
    (["--results-dir", ""], "must not be empty"),
])
def test_out_of_range_input_is_one_line_before_any_work(args, message, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["run", *args]
    if "--results-dir" not in args:
        argv += ["--results-dir", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a results directory


def test_results_dir_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["run", "--results-dir", str(target)]) == 2
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("yaml_text,message", [
    ("bits: [true]\n", "got true/false"),
    ("epochs: true\n", "must be a number"),
    ("folding:\n  - {strategy: uniform, pe: true}\n", "pe: must be a number"),
    ("a: &a [2, 3]\nbits: *a\n", "aliases"),
    ("bits: [2, 3, 4, 5, 6, 7, 8]\nseeds: [" + ", ".join(map(str, range(900))) + "]\n"
     "quant: [int, pot]\n", "at most 10,000"),
])
def test_hostile_sweep_specs_are_refused_quickly(yaml_text, message, tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml_text)
    assert main(["sweep", str(spec), "--results-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and len(err) < 500


def test_duplicate_points_count_once(tmp_path):
    from bench.core.sweep_spec import load_sweep

    spec = tmp_path / "spec.yaml"
    spec.write_text("bits: [2, 2, 3]\nseeds: [0, 0]\nepochs: 1\n")
    assert len(load_sweep(spec)) == 2


@pytest.mark.parametrize("args,message", [
    (["--seeds", "0,x"], "--seeds must be integers"),
    (["--seeds", "-1"], "--seeds must be integers"),
    (["--quick", "--full"], "not both"),
    (["--jobs", "0"], "--jobs must be a positive integer"),
    (["--cnv-epochs", "0"], "--cnv-epochs must be a positive integer"),
    (["--data-dir", "/nonexistent/dir", "--dataset", "mnist"], "not a directory"),
])
def test_reproduce_options_are_checked_before_any_work(args, message, tmp_path, capsys):
    results = tmp_path / "r"
    assert main(["reproduce", *args, "--results-dir", str(results)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not results.exists()


def test_reproduce_make_variables_reach_the_command():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    dry = subprocess.run(["make", "-n", "reproduce", "SEEDS=0,1", "FULL=1", "JOBS=2"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    line = " ".join(dry.replace("\\\n", " ").split())
    assert "--seeds '0,1'" in line and "--full" in line and "--jobs '2'" in line
    auto = subprocess.run(["make", "-n", "reproduce"], cwd=root, capture_output=True,
                          text=True, check=True).stdout
    assert "--jobs 'auto'" in auto and "--full" not in auto
