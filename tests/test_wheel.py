"""The wheel ships the task catalog: built, installed into a fresh venv outside the repo, gym.make works there."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

SMOKE = """
import gymnasium as gym, opsgym
from opsgym.tasks import envs_root
env = gym.make("opsgym/SRE-1")
obs, info = env.reset(seed=0)
env.close()
swe = gym.make("opsgym/SWE-Lite", scoring=False)
swe_obs, swe_info = swe.reset(seed=0)
swe.close()
print(opsgym.__file__)
print(envs_root())
print(info["task_id"], swe_info["task_id"], len(obs) > 0)
"""


def test_wheel_installs_and_runs_outside_the_repo(tmp_path: Path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, text=True)
    (wheel,) = dist.glob("opsgym-*.whl")

    env_dir = tmp_path / "fresh-venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # Dependencies come from the test venv (a plain path entry: its editable opsgym finder is not activated).
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True, capture_output=True, text=True)

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    proc = subprocess.run([str(python), "-c", SMOKE], capture_output=True, text=True, cwd=outside, timeout=300)
    assert proc.returncode == 0, proc.stderr
    module_file, catalog, summary = proc.stdout.strip().splitlines()[-3:]
    assert module_file.startswith(str(site)) and catalog.startswith(str(site))
    task_id, swe_task, nonempty = summary.split()
    assert task_id == "SRE-1" and swe_task.startswith("SWE-") and nonempty == "True"
