"""Block sizes: the rule without a measurement holds on the cache geometries machines
report (virtual ones included), and the measurement is made once, cached per machine,
skipped for small data and on request."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stackae._rows import _tuning
from stackae.objectives import stack_probe

#: (name, per-core geometry as sysfs reports it) of machines this project has run on
GEOMETRIES = [
    # AMD EPYC: 512 KiB L2 a core, a 32 MiB L3 shared by a complex of 8 cores
    ("amd-epyc", {"L1": 32 << 10, "L2": 512 << 10, "L3": (32 << 20) // 8}),
    # an Intel Xeon VM: 2 MiB L2, and the host's 300 MiB L3 reported for its 2 vCPUs
    ("intel-xeon-vm", {"L1": 48 << 10, "L2": 2 << 20, "L3": (300 << 20) // 2}),
    # a laptop: 1.25 MiB L2 a core, 12 MiB L3 for 8 cores
    ("laptop", {"L1": 48 << 10, "L2": 1280 << 10, "L3": (12 << 20) // 8}),
    # nothing known
    ("unknown", {"L1": 0, "L2": 0, "L3": 0}),
]


@pytest.mark.parametrize(("name", "geometry"), GEOMETRIES, ids=[g[0] for g in GEOMETRIES])
def test_the_rule_never_brings_back_4096_row_blocks(name, geometry):
    budget = _tuning.rule_budget(geometry)
    for itemsize, most in ((8, 512), (4, 1024)):  # MNIST's 784 features, 784-200-200-10
        rows = _tuning._rows_for(budget, 784, (200, 200), itemsize)
        assert _tuning.MIN_BLOCK_ROWS <= rows <= most, (name, itemsize, rows)
    # the old rule (half of the L3 share) chose 4096 rows on the virtual machine
    if name == "intel-xeon-vm":
        assert _tuning._rows_for(geometry["L3"], 784, (200, 200), 8) == 4096


def test_a_measurement_is_made_once_and_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKAE_CACHE", str(tmp_path))
    monkeypatch.setattr(_tuning, "_measured", {})
    calls = []

    def measure(itemsize, probe):
        calls.append(itemsize)
        return 512, {512: 0.1}

    monkeypatch.setattr(_tuning, "_measure", measure)
    budget = _tuning.calibrate(8)
    assert budget == 2 * 512 * _tuning.LIVE_ARRAYS * 784 * 8 and calls == [8]
    assert _tuning.calibrate(8) == budget and calls == [8]  # this process: remembered
    monkeypatch.setattr(_tuning, "_measured", {})
    assert _tuning.calibrate(8) == budget and calls == [8]  # another process: read from the file
    (entry,) = json.loads((tmp_path / "block-rows.json").read_text()).values()
    assert entry["rows_784"] == 512
    assert _tuning.calibrate(8, force=True) == budget and calls == [8, 8]
    # the rows follow from the budget for every shape
    assert _tuning.block_rows(784, (200, 200), 8, n_samples=60000) == 512
    assert _tuning.block_rows(784, (1000,), 8, n_samples=60000) == 384


def test_small_data_and_stackae_calibrate_0_use_the_rule(monkeypatch):
    def refuse(itemsize, probe):
        raise AssertionError("measured")

    monkeypatch.setattr(_tuning, "_measure", refuse)
    monkeypatch.setattr(_tuning, "_measured", {})
    rule = _tuning._rows_for(_tuning.rule_budget(_tuning.cache_geometry()), 64, (64, 32), 8)
    assert _tuning.block_rows(64, (64, 32), 8, n_samples=1257) == rule  # the embedded digits
    monkeypatch.setenv("STACKAE_CALIBRATE", "0")
    assert _tuning.calibrate(8) is None
    assert _tuning.block_rows(784, (200, 200), 8, n_samples=60000) == _tuning._rows_for(
        _tuning.rule_budget(_tuning.cache_geometry()), 784, (200, 200), 8
    )


def test_the_override_wins(monkeypatch):
    monkeypatch.setattr(_tuning, "_measure", lambda itemsize, probe: (_ for _ in ()).throw(AssertionError("measured")))
    monkeypatch.setenv("STACKAE_BLOCK_ROWS", "300")
    assert _tuning.block_rows(784, (200, 200), 8, n_samples=60000) == 300


def test_the_measurement_times_the_candidates():
    rows, seconds = _tuning._measure(4, stack_probe)
    assert set(seconds) == set(_tuning.CANDIDATES) and rows in _tuning.CANDIDATES
    assert seconds[rows] <= 1.02 * min(seconds.values())


def test_the_engines_time_the_probe_the_objectives_register(monkeypatch):
    """The tuner knows no objective: it times what it is given, by default the stack
    objective the objectives registered, and with none registered it measures nothing."""
    assert _tuning._probe is stack_probe
    seen = []

    def probe(dtype):
        seen.append(dtype)
        return lambda rows: lambda: None

    monkeypatch.setattr(_tuning, "_measured", {})
    monkeypatch.setattr(_tuning, "_cache_file", lambda: Path("/nonexistent/stackae/block-rows.json"))
    rows, seconds = _tuning._measure(8, probe)
    assert seen == [np.float64] and set(seconds) == set(_tuning.CANDIDATES)
    monkeypatch.setattr(_tuning, "_probe", None)
    assert _tuning.calibrate(8) is None
