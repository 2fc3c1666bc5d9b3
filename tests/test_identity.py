"""A run's identity covers what it was made from: the data's files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.core.spec import make_spec
from bench.engine.store import Store
from bench.run.point import run_point
from tests.test_data import make_mnist_arrays, write_mnist

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


def test_a_spec_with_data_files_travels_as_a_dict(tmp_path, digits):
    a = _npz_dir(tmp_path / "a", digits)
    spec = make_spec(dataset="npz", data_dir=str(a), epochs=1)
    assert make_spec(**spec.model_dump()).run_id() == spec.run_id()
    # the files changed between making the spec and running it: refused, not mislabelled
    _npz_dir(tmp_path / "b", digits, flip_labels=True)
    (a / "data.npz").write_bytes((tmp_path / "b" / "data.npz").read_bytes())
    with pytest.raises(Exception, match="data_sha256"):
        make_spec(**spec.model_dump())


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
