"""A tiny POSIX-shell reader for ``sh -c``/``bash -c`` in simulated containers: lists joined by ``;``, ``&&`` and
``||``, pipelines, single and double quotes, backslash escapes, ``$VAR``/``${VAR}``/``$?`` expansion, and the
redirections people add to one-liners (``2>&1``, ``>&2``, ``>/dev/null``, ``2>/dev/null``). Enough for what agents type;
anything beyond it (loops, subshells, command substitution) is reported by :func:`parse` as unsupported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Command", "Pipeline", "Unsupported", "parse"]

OPERATORS = ("&&", "||", ";", "|", "\n")
REDIRECTIONS = ("2>&1", "1>&2", ">&2", ">/dev/null", "2>/dev/null", "1>/dev/null")
SPECIAL = set("$`(){}<>&|;\n*?[]~")
KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
                      "function", "select"})


class Unsupported(ValueError):
    """Shell syntax the simulator does not read (the message names it)."""


@dataclass
class Command:
    """One simple command: words (each a list of (text, expandable) pieces) and its redirections."""

    words: list[list[tuple[str, bool]]] = field(default_factory=list)
    stderr_to_stdout: bool = False
    stdout_to_stderr: bool = False
    drop_stdout: bool = False
    drop_stderr: bool = False

    def argv(self, variables: dict[str, str]) -> list[str]:
        return [_expand_word(word, variables) for word in self.words]


@dataclass
class Pipeline:
    commands: list[Command]
    joiner: str = ";"
    """How this pipeline follows the previous one: ``;``, ``&&`` or ``||``."""


def _expand_word(pieces: list[tuple[str, bool]], variables: dict[str, str]) -> str:
    out = []
    for text, expandable in pieces:
        if not expandable:
            out.append(text)
            continue
        i = 0
        while i < len(text):
            char = text[i]
            if char != "$" or i + 1 >= len(text):
                out.append(char)
                i += 1
                continue
            nxt = text[i + 1]
            if nxt == "{":
                end = text.find("}", i)
                name, i = text[i + 2:end], end + 1
            elif nxt == "?":
                name, i = "?", i + 2
            elif nxt.isalnum() or nxt == "_":
                j = i + 1
                while j < len(text) and (text[j].isalnum() or text[j] == "_"):
                    j += 1
                name, i = text[i + 1:j], j
            else:
                out.append(char)
                i += 1
                continue
            out.append(variables.get(name, ""))
    return "".join(out)


def _tokens(script: str) -> list[object]:
    """Words (lists of pieces) and operator strings."""
    tokens: list[object] = []
    word: list[tuple[str, bool]] = []
    started, i = False, 0

    def flush() -> None:
        nonlocal word, started
        if started:
            tokens.append(word)
        word, started = [], False

    while i < len(script):
        char = script[i]
        if char in " \t":
            flush()
            i += 1
        elif char == "'":
            end = script.find("'", i + 1)
            if end < 0:
                raise Unsupported("unterminated quoted string")
            word.append((script[i + 1:end], False))
            started, i = True, end + 1
        elif char == '"':
            j, text = i + 1, []
            while j < len(script) and script[j] != '"':
                if script[j] == "\\" and j + 1 < len(script) and script[j + 1] in '"\\$`':
                    text.append(script[j + 1] if script[j + 1] != "$" else "\0")
                    j += 2
                    continue
                if script[j] == "`" or script[j:j + 2] == "$(":
                    raise Unsupported("command substitution")
                text.append(script[j])
                j += 1
            if j >= len(script):
                raise Unsupported("unterminated quoted string")
            for k, part in enumerate("".join(text).split("\0")):
                if k:
                    word.append(("$", False))
                word.append((part, True))
            started, i = True, j + 1
        elif char == "\\" and i + 1 < len(script):
            word.append((script[i + 1], False))
            started, i = True, i + 2
        elif script.startswith(REDIRECTIONS, i):
            flush()
            op = next(o for o in REDIRECTIONS if script.startswith(o, i))
            tokens.append(op)
            i += len(op)
        elif any(script.startswith(op, i) for op in OPERATORS):
            flush()
            op = next(o for o in OPERATORS if script.startswith(o, i))
            tokens.append(";" if op == "\n" else op)
            i += len(op)
        elif char == "#" and not started:
            end = script.find("\n", i)
            i = len(script) if end < 0 else end
        elif char in SPECIAL and char != "$":
            raise Unsupported(f"the shell syntax {char!r}")
        elif char == "$" and script[i + 1:i + 2] == "(":
            raise Unsupported("command substitution")
        else:
            j = i
            while j < len(script) and script[j] not in " \t'\"\\" and (script[j] == "$" or script[j] not in SPECIAL):
                if script.startswith("${", j):
                    if script.find("}", j) < 0:
                        raise Unsupported("bad substitution")
                    j = script.find("}", j)
                elif script.startswith("$?", j):
                    j += 1
                j += 1
            word.append((script[i:j], True))
            started, i = True, j
    flush()
    return tokens


def parse(script: str) -> list[Pipeline]:
    """The script as pipelines in order, each with how it joins the previous one."""
    pipelines: list[Pipeline] = []
    current, command, joiner = [], Command(), ";"
    for token in [*_tokens(script), ";"]:
        if isinstance(token, list):
            if not command.words and len(token) == 1 and token[0][1] and token[0][0] in KEYWORDS:
                raise Unsupported(f"the shell keyword {token[0][0]!r}")
            command.words.append(token)
        elif token == "2>&1":
            command.stderr_to_stdout = True
        elif token in (">&2", "1>&2"):
            command.stdout_to_stderr = True
        elif token in (">/dev/null", "1>/dev/null"):
            command.drop_stdout = True
        elif token == "2>/dev/null":
            command.drop_stderr = True
        elif token == "|":
            if not command.words:
                raise Unsupported("syntax error near unexpected token `|'")
            current.append(command)
            command = Command()
        else:
            if command.words:
                current.append(command)
            elif current or token != ";":
                raise Unsupported(f"syntax error near unexpected token `{token}'")
            if current:
                pipelines.append(Pipeline(current, joiner))
            current, command, joiner = [], Command(), str(token)
    return pipelines
