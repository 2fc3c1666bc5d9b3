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
    (["--pe", "0"], "positive integer"),
    (["--pe", "-3"], "positive integer"),
    (["--pe", "x"], "positive integer"),
    (["--simd", "0"], "positive integer"),
    (["--model", "resnet"], "allowed: tfc"),
    (["--board", "Alveo"], "allowed: Pynq-Z1"),
    (["--dataset", "imagenet"], "allowed: digits"),
    (["--epochs", "0"], "positive integer"),
    (["--quant", "float"], "allowed: int"),
    (["--clk-ns", "-1"], "positive number"),
    (["--data-dir", "/nonexistent/dir"], "not a directory"),
    (["--quant", "pot", "--bits", "6"], "pot weights need 1..5 bits"),
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
    with pytest.raises(SystemExit) as exc:
        main(["run", "--bogus", "1"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


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
