"""SWE episodes: workspace strategies, per-episode overhead against running the same tests directly, and the oracle's
episodes/minute over the shipped catalog.

Run: ``.venv/bin/python benchmarks/bench_swe.py [--repeat 5] [--skip-catalog]``. Prints numbers and ratios measured in
the same run; asserts nothing. Target (issue 7): an episode (fresh workspace + sandbox + grading) costs ≤ 1.3× running
the same tests directly, for a suite that takes about 3 s (``tests/swe/fixtures/bench-3s``); both read their per-test
outcomes from the outcome channel (:mod:`opsgym.swe.report_channel`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym

import opsgym  # noqa: F401
from opsgym.agents.base import play_episode
from opsgym.agents.scripted import OracleAgent
from opsgym.swe.catalog import base_tree
from opsgym.swe.evaluate import PYTEST_ARGS
from opsgym.swe.grading import pytest_files
from opsgym.swe.patches import git_apply
from opsgym.swe.report_channel import read_report
from opsgym.swe.scenario import SWEScenario
from opsgym.tasks import catalog_folders, load_task

REPO = Path(__file__).resolve().parent.parent
BENCH_TASK = REPO / "tests" / "swe" / "fixtures" / "bench-3s"
GIT_ENV = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.invalid", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.invalid"}


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.1f} ms (min {min(samples) * 1000:.1f})"


def workspace_strategies(base: Path, scratch: Path, repeat: int) -> None:
    """Time a fresh private tree of ``base`` made four ways (what opsgym.swe.workspace chose between)."""
    repo = scratch / "git-base"
    shutil.copytree(base, repo)
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "base"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)
    counter = iter(range(10**6))

    def copytree() -> None:
        shutil.copytree(base, scratch / f"c{next(counter)}", symlinks=True)

    def cp_a() -> None:
        subprocess.run(["cp", "-a", str(base), str(scratch / f"p{next(counter)}")], check=True)

    def worktree() -> None:
        dest = scratch / f"w{next(counter)}"
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", "--detach", str(dest)], check=True,
                       capture_output=True)

    def overlay() -> None:
        n = next(counter)
        for sub in ("up", "work", "merged"):
            (scratch / f"o{n}" / sub).mkdir(parents=True)
        o = scratch / f"o{n}"
        subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t overlay overlay -o lowerdir={base},upperdir={o}/up,"
                        f"workdir={o}/work {o}/merged && ls {o}/merged > /dev/null"], check=True)

    files = sum(1 for _ in base.rglob("*") if _.is_file())
    print(f"\n== fresh workspace for {base.parent.name} ({files} files), median of {repeat}")
    for name, fn in (("shutil.copytree (chosen)", copytree), ("cp -a", cp_a), ("git worktree add", worktree),
                     ("overlayfs (unshare -rm + mount)", overlay)):
        try:
            print(f"  {name:34s} {ms(timed(fn, repeat))}")
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"  {name:34s} unavailable here ({exc})")


def sandbox_floor(repeat: int, scratch: Path) -> None:
    """What one sandboxed command costs on top of the command itself (bwrap + launcher + teardown)."""
    from opsgym.swe.sandbox import Sandbox

    box = Sandbox("bwrap")
    work = scratch / "floor"
    work.mkdir()
    if box.owner:
        os.chown(work, *box.owner)
    print(f"\n== one command, sandboxed vs direct, median of {repeat}")
    for argv in (["/bin/true"], [sys.executable, "-c", "pass"]):
        direct = timed(lambda argv=argv: subprocess.run(argv, check=True), repeat)
        boxed = timed(lambda argv=argv: box.run(argv, workdir=work), repeat)
        name = " ".join(argv[-2:]) if len(argv) > 1 else argv[0]
        print(f"  {name:14s} direct {ms(direct)}   sandboxed {ms(boxed)}")
    box.close()


def direct_tests(task, scratch: Path) -> Callable[[], object]:
    """The baseline: the grading's pytest command on a plain copy with test.patch applied, no sandbox, its outcomes
    read from the same outcome channel (a pipe as ``OPSGYM_REPORT_FD``)."""
    tree = scratch / "direct"
    shutil.copytree(base_tree(task), tree)
    git_apply(tree, task.swe.patch_text(task.path, "test_patch"))
    files = pytest_files(task.swe.tests)

    def run() -> int:
        read, write = os.pipe()
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OPSGYM_REPORT_FD": str(write),
               "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # the sandbox shows pytest alone, not the venv's plugins
        proc = subprocess.Popen([sys.executable, *PYTEST_ARGS, *files], cwd=tree, env=env, pass_fds=(write,),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read, "rb") as fh:
            report = read_report(fh.read())
        proc.wait()
        return len(report.outcomes)
    return run


def episode(task) -> Callable[[], object]:
    """One empty-agent episode: sandbox + workspace + submit + grading + cleanup (what every episode pays)."""
    def run() -> None:
        scenario = SWEScenario(task, backend="bwrap", backend_options={}, perturbations=[])
        scenario.reset(0)
        scenario.evaluate()
        scenario.close()
    return run


def overhead(repeat: int, scratch: Path) -> None:
    task = load_task(BENCH_TASK)
    direct, full = direct_tests(task, scratch), episode(task)
    direct()  # warm the page cache for both
    d, e = [], []
    for _ in range(repeat):  # interleaved, so machine noise hits both alike
        d += timed(direct, 1)
        e += timed(full, 1)
    ratio = statistics.median(e) / statistics.median(d)
    print(f"\n== per-episode overhead on {task.id} (a ~3 s suite), median of {repeat}, interleaved")
    print(f"  tests run directly (baseline)     {ms(d)}")
    print(f"  full episode (workspace+sandbox+grading) {ms(e)}")
    print(f"  ratio episode / direct            {ratio:8.3f}x   (target <= 1.3x)")
    print(f"  fixed overhead per episode        {(statistics.median(e) - statistics.median(d)) * 1000:8.1f} ms")


def catalog(scratch: Path) -> None:
    folders = [f for f in catalog_folders() if f.name.startswith("swe-")]
    tasks = [load_task(f) for f in folders]
    direct_total = 0.0
    for task in tasks:
        direct_total += timed(direct_tests(task, scratch / task.id), 1)[0]
    agent, solved = OracleAgent(), 0
    t0 = time.perf_counter()
    for task in tasks:
        env = gym.make(task.gym_id)
        info = play_episode(env, agent, seed=0).info
        solved += info["outcome"]["extra"]["resolution"] == "RESOLVED_FULL"
        env.close()
    total = time.perf_counter() - t0
    print(f"\n== oracle over the catalog ({len(tasks)} SWE tasks, one process)")
    print(f"  resolved                          {solved}/{len(tasks)}")
    print(f"  oracle episodes/minute            {len(tasks) / total * 60:8.1f}   ({total:.1f} s in all)")
    print(f"  same tests run directly           {direct_total:8.1f} s   -> ratio {total / direct_total:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-catalog", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opsgym-bench-swe-") as tmp:
        scratch = Path(tmp)
        biggest = max((f for f in catalog_folders() if f.name.startswith("swe-")),
                      key=lambda f: sum(1 for _ in (f / "repo").rglob("*")))
        workspace_strategies(biggest / "repo", scratch / "ws", args.repeat * 4)
        sandbox_floor(args.repeat * 4, scratch)
        overhead(args.repeat, scratch)
        if not args.skip_catalog:
            catalog(scratch)


if __name__ == "__main__":
    main()
