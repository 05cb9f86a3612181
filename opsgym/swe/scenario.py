"""SWEScenario: a repository to fix, in a fresh workspace per episode, with every command run in the sandbox.

Actions (text, after SWE-agent's tool set): ``open``, ``search``, ``find`` and ``diff`` read; ``edit``, ``create``,
``run`` and ``run_tests`` change the tree or run its code. Editing an existing test file, deleting one, or adding a
skip/xfail marker is classed *destructive* and recorded (``detail``) so the scoring's Usefulness rules can penalise
it. The end state is graded as SWE-bench does (:mod:`opsgym.swe.grading`): ``test.patch`` applied to a copy of the
final tree, the FAIL_TO_PASS and PASS_TO_PASS tests run in the sandbox. The agent never sees ``test.patch``.

``backend``: ``"bwrap"`` (default) or ``"unsafe-local"``. ``backend_options``: any :class:`~opsgym.swe.sandbox.Limits`
field (``timeout_s`` for ``run``, ``cpu_s``, ``cpus``, ``memory_mb``, ``fsize_mb``, ``nproc``, ``tmp_mb``,
``workspace_mb``, ``workspace_inodes``), ``test_timeout_s`` (``run_tests`` and grading, default 300) and ``python``
(the interpreter the repository runs on; the sandbox shows only pytest, the task's ``test_dependencies`` and the
option ``test_dependencies`` — distribution names — of what is installed in it).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from opsgym.errors import InfrastructureError, OpsGymError
from opsgym.outcome import Answer
from opsgym.scenario import ActionResult, Evaluation, Tool
from opsgym.swe import tools
from opsgym.swe.catalog import base_tree
from opsgym.swe.evaluate import PYTEST_ARGS, grade, test_snapshot, tree_changes
from opsgym.swe.sandbox import Limits, SandboxResult, network_events, open_sandbox
from opsgym.swe.tools import ToolReply
from opsgym.swe.workspace import Workspace, iter_files

__all__ = ["SWEScenario"]

OUTPUT_TAIL = 12_000

TOOLS: tuple[Tool, ...] = (
    Tool("open", "open PATH [LINE]", "show 100 lines of a file around LINE, or list a directory"),
    Tool("search", "search TEXT [PATH]", "list lines containing TEXT (quote it if it has spaces)"),
    Tool("find", "find NAME", "find files by name, part of a name, or glob (*.py)"),
    Tool("edit", "edit PATH START:END  + new lines", "replace lines START..END (or: edit PATH + SEARCH/REPLACE)"),
    Tool("create", "create PATH  + content lines", "create a new file"),
    Tool("run_tests", "run_tests [PYTEST ARGS]", "run the test suite (or a selection) in the sandbox"),
    Tool("run", "run COMMAND", "run a shell command in the sandbox (no network); `run python` + lines runs code"),
    Tool("diff", "diff", "show your changes as a patch"),
)


HOST_TOOLS = frozenset({"open", "search", "find", "edit", "create", "diff"})
"""Actions the host carries out on the workspace itself (the others run in the sandbox)."""


def _tail(text: str, limit: int = OUTPUT_TAIL) -> str:
    return text if len(text) <= limit else f"[... {len(text) - limit} characters cut ...]\n" + text[-limit:]


class SWEScenario:
    """A SWE task's world: workspace + sandbox (see the module docstring).

    Perturbations act on observations only (OpsEnv applies them); a repository has no rendered objects to rewrite.
    """

    tools = TOOLS

    def __init__(self, task: Any, *, backend: str, backend_options: dict[str, Any] | None = None,
                 perturbations: list[Any] | None = None) -> None:
        options = dict(backend_options or {})
        known = {f.name for f in dataclasses.fields(Limits)}
        limits = Limits(**{k: options.pop(k) for k in list(options) if k in known})
        self.test_timeout_s = float(options.pop("test_timeout_s", 300.0))
        python = options.pop("python", None)
        extra = options.pop("test_dependencies", ())
        extra = (extra,) if isinstance(extra, str) else tuple(extra)
        if options:
            raise OpsGymError(f"unknown SWE backend option(s) {sorted(options)}; known: "
                              f"{sorted(known | {'test_timeout_s', 'python', 'test_dependencies'})}")
        self.task = task
        self.spec = task.swe
        self.perturbations = list(perturbations or [])
        self.base = base_tree(task)
        self.base_tests = {rel for rel in iter_files(self.base) if tools.is_test_path(rel)}
        self.sandbox = open_sandbox(backend, python=python, limits=limits,
                                    packages=("pytest", *self.spec.test_dependencies, *extra))
        self.workspace: Workspace | None = None
        self.events: list[dict[str, Any]] = []
        self.answer: Answer | None = None

    # ------------------------------------------------------------------------------------------- Scenario API
    def reset(self, seed: int) -> tuple[str, dict[str, Any]]:
        if self.workspace is not None:
            self.workspace.close()
        limits = self.sandbox.limits
        self.workspace = Workspace(self.base, owner=self.sandbox.owner,
                                   quota=(limits.workspace_mb, limits.workspace_inodes))
        self.events, self.answer = [], None
        if self.spec.environment_setup.strip():
            setup = self.sandbox.run(["/bin/sh", "-c", self.spec.environment_setup], workdir=self.workspace.path,
                                     timeout_s=self.test_timeout_s)
            if setup.returncode != 0:
                raise InfrastructureError(f"task {self.task.id}: environment_setup failed (exit {setup.returncode}):"
                                          f" {_tail(setup.output, 2000)}")
        intro = (f"Repository {self.spec.repo if self.spec.base_commit else self.spec.instance_id} is checked out "
                 f"at /workspace (paths are relative to it). Resolve this issue:\n\n"
                 f"{self.spec.problem_statement.strip()}\n\n"
                 "Change the code (not the tests) so the issue is fixed; `run_tests` runs the existing tests. "
                 "When you are done, `submit`: your changes to the repository are the answer.")
        return intro, {}

    def execute(self, action: str) -> ActionResult:
        verb = action.split(None, 1)[0] if action.strip() else ""
        if self.workspace is None:
            return ActionResult("The episode has not started; call reset() first.", "invalid", verb, ok=False,
                                error="not reset", sim_cost_s=0.0)
        handler = getattr(self, f"_do_{verb}", None)
        try:
            if handler is None:
                raise tools.ToolError("unknown action; " + "; ".join(t.usage for t in self.tools))
            return handler(action)
        except OSError as exc:  # the host-side file tools on a tree the agent shaped (a name too long, no access)
            if verb not in HOST_TOOLS:
                raise
            return ActionResult(f"{verb}: {exc.strerror or exc}", "invalid", verb, ok=False,
                                error=exc.strerror or str(exc), sim_cost_s=0.0)
        except tools.ToolError as exc:
            return ActionResult(f"{verb}: {exc}", "invalid", verb, ok=False, error=str(exc).splitlines()[0],
                                sim_cost_s=0.0)

    def observe_answer(self, answer: Answer) -> None:
        self.answer = answer

    def evaluate(self) -> Evaluation:
        if self.workspace is None:
            raise InfrastructureError("evaluate() before reset()")
        return grade(self.task, self.base, self.workspace, self.sandbox, self.events,
                     timeout_s=self.test_timeout_s)

    def now(self) -> float:
        return time.time()

    def close(self) -> None:
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None
        self.sandbox.close()

    # ---------------------------------------------------------------------------------------------- actions
    @property
    def _ws(self) -> Workspace:
        """The episode's workspace (``execute`` refuses actions before ``reset`` made one)."""
        if self.workspace is None:
            raise OpsGymError("the SWE scenario has no workspace: reset it first")
        return self.workspace

    @property
    def root(self) -> Path:
        return self._ws.path

    def _reply(self, verb: str, reply: ToolReply, cls: str = "read") -> ActionResult:
        destructive = reply.detail.get("test_file") or reply.detail.get("skip_marker")
        return ActionResult(reply.observation, "destructive" if destructive else cls, verb,  # type: ignore[arg-type]
                            detail=reply.detail, sim_cost_s=0.0)

    def _do_open(self, action: str) -> ActionResult:
        return self._reply("open", tools.open_path(self.root, tools.split_action(action)[0][1:]))

    def _do_search(self, action: str) -> ActionResult:
        return self._reply("search", tools.search_text(self.root, tools.split_action(action)[0][1:]))

    def _do_find(self, action: str) -> ActionResult:
        return self._reply("find", tools.find_files(self.root, tools.split_action(action)[0][1:]))

    def _do_edit(self, action: str) -> ActionResult:
        args, body = tools.split_action(action)
        return self._reply("edit", tools.edit_file(self.root, args[1:], body), "mutate")

    def _do_create(self, action: str) -> ActionResult:
        args, body = tools.split_action(action)
        return self._reply("create", tools.create_file(self.root, args[1:], body, self.sandbox.owner), "mutate")

    def _do_diff(self, action: str) -> ActionResult:
        if action.strip() != "diff":
            raise tools.ToolError("usage: diff")
        changes = tree_changes(self.base, self.root, self._ws.pristine)
        unshown = [f"Changed, content not shown (binary, over 256 KiB, or sparse): {rel}" for rel in changes.binary]
        text = "\n".join([changes.patch.rstrip("\n")] * bool(changes.patch) + unshown[:50])
        return ActionResult(text or "No changes yet.", "read", "diff", sim_cost_s=0.0)

    def _do_run_tests(self, action: str) -> ActionResult:
        args = tools.split_action(action)[0][1:]
        return self._sandboxed("run_tests", [self.sandbox.python, *PYTEST_ARGS, *args], None, self.test_timeout_s,
                               report=True)

    def _do_run(self, action: str) -> ActionResult:
        command = action[len("run"):].strip()
        first, _, rest = command.partition("\n")
        if first.strip() == "python" and rest.strip():
            return self._sandboxed("run", [self.sandbox.python, "-"], rest, None)
        if not command:
            raise tools.ToolError("usage: run COMMAND  (or `run python` followed by lines of Python)")
        return self._sandboxed("run", ["/bin/sh", "-c", command], None, None)

    def _sandboxed(self, verb: str, argv: list[str], stdin: str | None, timeout: float | None, *,
                   report: bool = False) -> ActionResult:
        before = test_snapshot(self.root, self.base_tests)
        result = self.sandbox.run(argv, workdir=self.root, stdin=stdin, timeout_s=timeout, report=report)
        if not self._ws.within_quota():
            result.events.append({"event": "workspace-quota", "limit_mb": self.sandbox.limits.workspace_mb,
                                  "limit_inodes": self.sandbox.limits.workspace_inodes})
        if not result.started and not result.timed_out:
            raise InfrastructureError(f"the sandbox failed to start: {result.stderr.strip()[:300]}")
        self.events += [{**e, "action": verb} for e in result.events]
        after = test_snapshot(self.root, self.base_tests)
        detail: dict[str, Any] = {"exit_code": result.returncode, "timed_out": result.timed_out,
                                  "events": result.events[:20]}
        if network_events(result.events):
            detail["network"] = True
        deleted = sorted(set(before) - set(after))
        changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
        if deleted:
            detail.update(deleted=True, path=deleted[0], deleted_files=deleted)
        elif changed:
            detail.update(test_file=True, path=changed[0], changed_files=changed)
        cls = "destructive" if deleted or changed else "mutate"
        return ActionResult(self._describe(result), cls, verb, detail=detail,  # type: ignore[arg-type]
                            sim_cost_s=result.duration_s)

    @staticmethod
    def _describe(result: SandboxResult) -> str:
        status = "timed out and was killed" if result.timed_out else f"exit code {result.returncode}"
        notes = [f"[sandbox: {e['event']}]" for e in result.events if e.get("event") not in ("socket", "timeout")]
        return "\n".join([_tail(result.output) or "(no output)", f"[{status}]", *notes])
