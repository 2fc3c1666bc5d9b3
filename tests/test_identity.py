"""A run's identity covers what it was made from: the data's files and a user module's
source (with the modules of the user's own code that it imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.core.errors import SpecError
from bench.core.record import Record
from bench.core.spec import make_spec
from bench.engine.store import Store
from bench.run.point import run_point
from tests.test_data import make_mnist_arrays, write_mnist

ROOT = Path(__file__).resolve().parents[1]

# -- the data -----------------------------------------------------------------------------


def _npz_dir(directory: Path, digits, flip_labels: bool = False) -> Path:
    """A small npz data set from the digits; `flip_labels` gives other data, same shape."""
    directory.mkdir(parents=True)
    y_train, y_test = digits.y_train[:300], digits.y_test[:60]
    if flip_labels:
        y_train, y_test = 9 - y_train, 9 - y_test
    np.savez(directory / "data.npz", x_train=digits.x_train[:300], y_train=y_train,
             x_test=digits.x_test[:60], y_test=y_test)
    return directory


def test_the_data_files_content_is_part_of_the_run_id(tmp_path, digits):
    a = _npz_dir(tmp_path / "a", digits)
    b = _npz_dir(tmp_path / "b", digits, flip_labels=True)
    same = tmp_path / "elsewhere"
    same.mkdir()
    (same / "mine.npz").write_bytes((a / "data.npz").read_bytes())
    spec = {"dataset": "npz", "epochs": 1, "weight_bits": 2, "act_bits": 2}
    run_a = make_spec(**spec, data_dir=str(a))
    assert run_a.data_sha256 is not None and len(run_a.data_sha256) == 64
    assert make_spec(**spec, data_dir=str(b)).run_id() != run_a.run_id()
    # where the files are, and what the file is called, is not identity; the content is
    assert make_spec(**spec, data_dir=str(same)).run_id() == run_a.run_id()

    write_mnist(tmp_path / "m1", make_mnist_arrays(seed=1))
    write_mnist(tmp_path / "m2", make_mnist_arrays(seed=2))
    m1 = make_spec(dataset="mnist", data_dir=str(tmp_path / "m1"))
    m2 = make_spec(dataset="mnist", data_dir=str(tmp_path / "m2"))
    assert m1.run_id() != m2.run_id()
    # without a data directory: the published files, named by the data set as before
    assert make_spec(dataset="mnist").run_id() not in (m1.run_id(), m2.run_id())
    assert make_spec(dataset="mnist").data_sha256 is None


def test_digits_and_a_missing_data_set_keep_their_identity(tmp_path):
    # digits ships with scikit-learn: a data directory does not change what it is
    assert make_spec(data_dir=str(tmp_path)).run_id() == make_spec().run_id()
    assert make_spec().data_sha256 is None
    # a directory without the files is not the published data set: its own id, so the
    # run fails at its data stage instead of finding the downloaded data's record
    empty = make_spec(dataset="mnist", data_dir=str(tmp_path))
    assert empty.run_id() != make_spec(dataset="mnist").run_id()


def test_data_files_that_cannot_be_read_are_one_line(tmp_path):
    (tmp_path / "odd.npz").mkdir()  # the only .npz, but not a file
    with pytest.raises(SpecError, match="data_dir: cannot read") as err:
        make_spec(dataset="npz", data_dir=str(tmp_path))
    assert "\n" not in str(err.value)


def test_a_spec_with_data_files_travels_as_a_dict(tmp_path, digits):
    a = _npz_dir(tmp_path / "a", digits)
    spec = make_spec(dataset="npz", data_dir=str(a), epochs=1)
    assert make_spec(**spec.model_dump()).run_id() == spec.run_id()
    # the files changed between making the spec and running it: refused, not mislabelled
    _npz_dir(tmp_path / "b", digits, flip_labels=True)
    (a / "data.npz").write_bytes((tmp_path / "b" / "data.npz").read_bytes())
    with pytest.raises(Exception, match="data_sha256"):
        make_spec(**spec.model_dump())


def test_a_finished_run_on_user_data_is_found_without_torch(tmp_path, digits):
    """Hashing the data files and a user's module keeps a repeated run cheap: nothing
    heavy is imported, and the user's module is read, not run."""
    from tests.test_store import IDENTITY, OK_FIELDS

    _user_package(tmp_path / "code")
    data = _npz_dir(tmp_path / "a", digits)
    results = tmp_path / "results"
    spec = make_spec(dataset="npz", data_dir=str(data), epochs=1, weight_bits=2, act_bits=2)
    Store(results).write_record(Record(**{**IDENTITY, **OK_FIELDS, "dataset": "npz",
                                          "run_id": spec.run_id(), "status": "ok"}))
    script = ("import sys; from bench.core.spec import make_spec; "
              "from bench.engine.store import Store; from bench.run.point import run_point; "
              f"spec = make_spec(dataset='npz', data_dir={str(data)!r}, epochs=1, "
              "weight_bits=2, act_bits=2); "
              f"outcome = run_point(spec, Store({str(results)!r}), show_progress=False); "
              f"sys.path.insert(0, {str(tmp_path / 'code')!r}); "
              "assert make_spec(model='userpkg.nets:mlp').factory_sha256; "
              "print(outcome.cached, sorted(m for m in ('torch', 'finn', 'brevitas', "
              "'userpkg') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.stdout.strip() == "True []", proc.stdout + proc.stderr[-2000:]


@pytest.mark.slow
def test_a_second_data_set_is_trained_not_answered_with_the_first(tmp_path, digits):
    store = Store(tmp_path / "results")
    spec = {"dataset": "npz", "epochs": 1, "weight_bits": 2, "act_bits": 2, "pe": 2,
            "hw_accuracy_samples": 20}
    first = run_point(make_spec(**spec, data_dir=str(_npz_dir(tmp_path / "a", digits))),
                      store, show_progress=False)
    other = make_spec(**spec, data_dir=str(_npz_dir(tmp_path / "b", digits, True)))
    second = run_point(other, store, show_progress=False)
    assert first.record.status == second.record.status == "ok"
    assert not second.cached and "train" not in second.cached_stages
    assert second.record.run_id != first.record.run_id
    assert second.record.data_sha256 == other.data_sha256 != first.record.data_sha256
    assert len(list((store.runs_dir).glob("*.json"))) == 2


# -- an external Brevitas module ----------------------------------------------------------

NETS = """\
from torch import nn

from userpkg import layers
from .helpers import WIDTH


def mlp(input_shape, num_classes, weight_bits=2, act_bits=2):
    return layers.body(int(input_shape[0] * input_shape[1] * input_shape[2]), WIDTH,
                       num_classes, weight_bits, act_bits)
"""

LAYERS = """\
from brevitas.nn import QuantLinear, QuantReLU
from torch import nn


def body(features, width, num_classes, weight_bits, act_bits):
    return nn.Sequential(
        nn.Flatten(),
        QuantLinear(features, width, bias=False, weight_bit_width=weight_bits),
        nn.BatchNorm1d(width),
        QuantReLU(bit_width=act_bits, return_quant_tensor=False),
        QuantLinear(width, num_classes, bias=False, weight_bit_width=weight_bits),
    )
"""


def _user_package(root: Path) -> Path:
    """userpkg/{__init__,nets,helpers,layers,unused}.py: nets imports helpers and layers."""
    package = root / "userpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "nets.py").write_text(NETS)
    (package / "helpers.py").write_text("WIDTH = 16\n")
    (package / "layers.py").write_text(LAYERS)
    (package / "unused.py").write_text("X = 1\n")
    return package


def test_the_factory_source_and_the_user_modules_it_imports_are_identity(tmp_path,
                                                                         monkeypatch):
    package = _user_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    model = "userpkg.nets:mlp"
    before = make_spec(model=model)
    assert before.factory_sha256 is not None and len(before.factory_sha256) == 64
    assert make_spec(model=model).run_id() == before.run_id()
    ids = {before.run_id()}
    for name, text in [("nets.py", NETS + "# tuned\n"), ("helpers.py", "WIDTH = 24\n"),
                       ("layers.py", LAYERS + "\n"), ("__init__.py", "VERSION = 2\n")]:
        (package / name).write_text(text)
        ids.add(make_spec(model=model).run_id())
    assert len(ids) == 5  # every edit gave a new identity
    # a module of the package that the factory's module never imports is not tracked
    (package / "unused.py").write_text("X = 2\n")
    assert make_spec(model=model).run_id() in ids
    # the built-in models have no module of the user's to track: ids as before
    assert make_spec().factory_sha256 is None


def test_a_sweep_stops_with_one_line_when_the_module_changed_under_it(tmp_path,
                                                                      monkeypatch):
    """A point sent to a worker validates again; files edited since the sweep started
    stop it with a message, not a traceback (its finished records stay)."""
    from bench.run.executor import run_group_task

    package = _user_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    payload = [make_spec(model="userpkg.nets:mlp", epochs=1).model_dump()]
    (package / "helpers.py").write_text("WIDTH = 8\n")
    with pytest.raises(SpecError, match="factory_sha256: the module's source changed"):
        run_group_task(payload, str(tmp_path / "results"), False)


def test_a_top_level_user_module_tracks_its_sibling_modules(tmp_path, monkeypatch):
    (tmp_path / "mynet.py").write_text("import helper2\nfrom os import path\n\n\n"
                                       "def build(input_shape, num_classes):\n"
                                       "    return helper2.make()\n")
    (tmp_path / "helper2.py").write_text("def make():\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = make_spec(model="mynet:build").run_id()
    (tmp_path / "helper2.py").write_text("def make():\n    return 1\n")
    assert make_spec(model="mynet:build").run_id() != before


def test_a_module_edited_after_this_process_imported_it_is_refused(tmp_path, monkeypatch,
                                                                   digits):
    """Python keeps an imported module: training it under the edited files' identity
    would record the old code's numbers as the new code's."""
    from bench.learn import train

    package = _user_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(train, "_BUILT_FROM", {})
    for name in ("userpkg", "userpkg.nets", "userpkg.helpers", "userpkg.layers"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    train.make_model(make_spec(model="userpkg.nets:mlp"), digits)
    (package / "helpers.py").write_text("WIDTH = 24\n")
    with pytest.raises(SpecError, match="changed after this process imported it"):
        train.make_model(make_spec(model="userpkg.nets:mlp"), digits)
    for name in ("userpkg", "userpkg.nets", "userpkg.helpers", "userpkg.layers"):
        sys.modules.pop(name, None)


def _cli_run(model_root: Path, results: Path) -> dict:
    cmd = [sys.executable, "-m", "bench.cli", "run", "--model", "userpkg.nets:mlp",
           "--epochs", "1", "--bits", "2", "--pe", "2", "--hw-accuracy-samples", "20",
           "--results-dir", str(results), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(model_root)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {p.stem: p for p in (results / "runs").glob("*.json")}


@pytest.mark.slow
def test_editing_the_user_module_retrains(tmp_path):
    package = _user_package(tmp_path / "code")
    results = tmp_path / "results"
    first = _cli_run(tmp_path / "code", results)
    (package / "helpers.py").write_text("WIDTH = 12\n")
    second = _cli_run(tmp_path / "code", results)
    assert len(first) == 1 and len(second) == 2  # a new record, not the old one
    new = json.loads(next(p for k, p in second.items() if k not in first).read_text())
    assert new["status"] == "ok" and len(new["model_sha256"]) == 64
    assert new["model_sha256"] != json.loads(next(iter(first.values())).read_text())[
        "model_sha256"]
    trained = [p for p in (results / "cache" / "train").iterdir() if p.is_dir()]
    assert len(trained) == 2

