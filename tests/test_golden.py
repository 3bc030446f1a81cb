"""The golden check (tools/golden.py) records fingerprints and finds a changed one: the
guard every bit-identical refactoring runs before it is committed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "golden.py"


def _golden(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_golden_check_records_then_compares_bit_for_bit(tmp_path):
    recording = tmp_path / "golden.json"
    only = ["--only", "softmax_lbfgs", "sae_adam_denoising_tied"]
    assert _golden("record", str(recording), *only).returncode == 0
    record = json.loads(recording.read_text())
    assert sorted(record["fingerprints"]) == ["sae_adam_denoising_tied", "softmax_lbfgs"]
    same = _golden("compare", str(recording))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "2 of 2 configurations bit-identical" in same.stdout

    record["fingerprints"]["softmax_lbfgs"] = "0" * 24 + ":" + "0" * 24 + ":" + "0" * 12
    recording.write_text(json.dumps(record))
    changed = _golden("compare", str(recording))
    assert changed.returncode == 1
    assert "1 of 2 configurations bit-identical" in changed.stdout
    assert (
        "DIFFERS softmax_lbfgs: recorded 000000000000000000000000:000000000000000000000000:000000000000"
        in changed.stdout
    )
