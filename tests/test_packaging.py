"""The installed package carries the edition specs (they live in templates/ in the checkout)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_specs_and_loads_them_outside_the_checkout(tmp_path: Path):
    pytest.importorskip("setuptools")
    out = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    wheel = next(out.glob("xlsxgov-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for edition in ("gov2021", "gov2019", "legacy2008"):
        assert f"xlsxgov/specs/{edition}.yaml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = "from xlsxgov import spec; print(spec.SPEC_DIR); print(spec.load('gov2019').name)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    spec_dir, name = result.stdout.splitlines()
    assert Path(spec_dir) == site / "xlsxgov" / "specs"
    assert name == spec_mod_name("gov2019")


def spec_mod_name(edition: str) -> str:
    from xlsxgov import spec

    return spec.load(edition).name
