"""``jq`` for the action pipes (:mod:`opsgym.cluster.filters`), through the maintained jq library (PyPI ``jq``).

A jq program is a small language that can loop forever (``def f: f; f``, ``last(range(1e12))``) inside C code that
Python cannot interrupt, and it has builtins that reach outside its input: ``env``/``$ENV`` (the process environment,
where API keys live), ``input_filename``, ``import``/``include`` (jq modules read from disk). So the program runs in a
child Python process with an empty environment, a CPU and memory limit and a wall-clock budget (:data:`BUDGET_S`), and
a prelude shadows the builtins that would look outside: ``env`` and ``$ENV`` are empty, and a module directive cannot
follow the prelude, so ``import`` is a syntax error. The program is compiled first, in this process (compiling runs
nothing), so a syntax error is refused before kubectl runs. Options: ``-r``, ``-j``, ``-c``, ``-s``, ``-S``, ``-e``,
``-n``, ``-a``, ``-M``, ``--arg NAME VALUE``, ``--argjson NAME JSON``; output as jq 1.7 prints it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable

import jq as jqlib  # type: ignore[import-not-found]  # a compiled module without stubs

from opsgym.cluster.filters import MAX_OUTPUT, Result, gnu_options
from opsgym.cluster.pflag import Rejected

__all__ = ["BUDGET_S", "PRELUDE", "jq"]

BUDGET_S = 5.0
"""Wall seconds a jq stage may run (its CPU limit is the same)."""
MEMORY_BYTES = 1 << 30
PRELUDE = ("def env: {}; def input_filename: null; def get_search_list: []; def get_jq_origin: null; "
           "def get_prog_origin: null; def debug: .; def debug(m): .; def stderr: .; {} as $ENV | ")
"""Shadows every builtin that reads outside the input (the environment, files, the library's location)."""
LONG = {"raw-output": "r", "join-output": "j", "compact-output": "c", "slurp": "s", "sort-keys": "S",
        "exit-status": "e", "null-input": "n", "ascii-output": "a", "monochrome-output": "M"}
CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_CPU, (int(sys.argv[2]), int(sys.argv[2])))
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[3]), int(sys.argv[3])))
sys.path.insert(0, sys.argv[1])
import jq
job = json.loads(sys.stdin.read())
flags, limit, out, size, last, count = job["flags"], job["limit"], [], 0, None, 0
try:
    program = jq.compile(job["program"], args=job["args"])
    values = program.input_value(None) if "n" in flags else program.input_text(job["text"], slurp="s" in flags)
    for value in values:
        count, last = count + 1, value
        if isinstance(value, str) and ("r" in flags or "j" in flags):
            text = value
        elif "c" in flags:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii="a" in flags, sort_keys="S" in flags)
        else:
            text = json.dumps(value, indent=2, ensure_ascii="a" in flags, sort_keys="S" in flags)
        text += "" if "j" in flags else "\n"
        out.append(text)
        size += len(text)
        if size > limit:
            break
    status = (4 if count == 0 else 1 if last in (None, False) else 0) if "e" in flags else 0
    print(json.dumps({"out": "".join(out), "err": "", "status": status}))
except ValueError as exc:
    message = str(exc)
    if not message.startswith(("jq: error", "parse error")):
        message = "jq: error (at <stdin>:0): " + message
    elif message.startswith("parse error"):
        message = "jq: error (at <stdin>:0): Cannot parse input: " + message
    print(json.dumps({"out": "".join(out), "err": message + "\n", "status": 5 if "parse error" not in message else 2}))
"""


def _named_arguments(args: list[str]) -> tuple[list[str], dict[str, object]]:
    """Take ``--arg NAME VALUE`` and ``--argjson NAME JSON`` (two operands each, which getopt cannot read) out."""
    rest: list[str] = []
    named: dict[str, object] = {}
    i = 0
    while i < len(args):
        if args[i] == "--":
            rest += args[i:]
            break
        if args[i] in ("--arg", "--argjson"):
            if i + 2 >= len(args):
                raise Rejected(f"jq: {args[i]} takes a name and a value: {args[i]} NAME VALUE")
            name, value = args[i + 1], args[i + 2]
            try:
                named[name] = json.loads(value) if args[i] == "--argjson" else value
            except ValueError:
                raise Rejected(f"jq: --argjson {name}: {value[:40]!r} is not JSON") from None
            i += 3
            continue
        rest.append(args[i])
        i += 1
    return rest, named


def _message(error: ValueError) -> str:
    return str(error).replace(PRELUDE, "")


def jq(args: list[str]) -> Callable[[str], Result]:
    """Check jq's options and compile its program (a syntax error is refused here)."""
    rest, named = _named_arguments(args)
    options, operands = gnu_options("jq", rest, "rjcsSenaM", LONG)
    if len(operands) > 1:
        raise Rejected(f"jq {operands[1]!r}: filters read only the output piped into them, never files")
    program = PRELUDE + (operands[0] if operands else ".")
    try:
        jqlib.compile(program, args=named)
    except ValueError as exc:
        raise Rejected(f"jq: the program does not compile: {_message(exc)}") from None
    flags = "".join(options)
    folder = os.path.dirname(jqlib.__file__)

    def run(text: str) -> Result:
        job = json.dumps({"program": program, "args": named, "text": text, "flags": flags, "limit": MAX_OUTPUT})
        limit = str(int(BUDGET_S) + 1)
        try:
            done = subprocess.run([sys.executable, "-I", "-S", "-c", CHILD, folder, limit, str(MEMORY_BYTES)],
                                  input=job, capture_output=True, text=True, timeout=BUDGET_S, env={},
                                  errors="replace")
        except subprocess.TimeoutExpired:
            return Result("", f"jq: stopped: the program ran longer than {BUDGET_S:g} s\n", 5)
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            return Result("", "jq: stopped: the program ran out of time or memory\n", 5)
        return Result(str(answer["out"]), str(answer["err"]).replace(PRELUDE, ""), int(answer["status"]))
    return run
