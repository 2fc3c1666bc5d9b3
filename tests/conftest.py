"""Shared fixtures: the bundled digits data and a trained, exported, FINN-built tiny TFC.

The expensive artifacts are session-scoped so that the stage tests share one training
and one FINN build.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from bench.core.spec import RunSpec, make_spec
from bench.data.load import Dataset, load_dataset
from bench.engine.store import Store

warnings.filterwarnings("ignore")


@pytest.fixture(scope="session")
def digits() -> Dataset:
    return load_dataset("digits")


@pytest.fixture(scope="session")
def small_spec() -> RunSpec:
    return make_spec(model="tfc", dataset="digits", weight_bits=2, act_bits=2, epochs=3, pe=2)


@pytest.fixture(scope="session")
def trained(small_spec, digits):
    from bench.learn.train import train

    return train(small_spec, digits, show_progress=False)


@pytest.fixture(scope="session")
def exported(trained, digits, tmp_path_factory) -> Path:
    from bench.learn.export import export_and_check

    path = tmp_path_factory.mktemp("export") / "tfc.onnx"
    return export_and_check(trained.model, digits.x_test[:8], path).path


@pytest.fixture(scope="session")
def hw_graph(exported, tmp_path_factory):
    from bench.finn_flow import build_hw_graph

    return build_hw_graph(exported, tmp_path_factory.mktemp("hw"), "xc7z020clg400-1", 10.0)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "results")
