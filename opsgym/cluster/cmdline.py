"""An action's command line, read the way a shell would split it, without ever handing it to a shell.

Agents write what they would type in a terminal: ``kubectl get pods -A | grep -i crash | head -5``, a manifest in a
heredoc (``kubectl apply -f - <<EOF`` … ``EOF``, or ``cat <<EOF | kubectl apply -f -``), sometimes ``2>&1``. This
module finds the parts of such a line — the one kubectl command, the text kubectl reads on its standard input, the
filters its output goes through — and refuses everything that would need a shell: sequences (``;``, ``&&``, ``||``,
``&``), command substitution (``$(…)``, backticks), subshells, and redirections to or from files. Words are quoted as
:mod:`shlex` quotes them (``'…'`` literally; in ``"…"`` a backslash escapes only ``"`` and ``\\``); a backslash at the
end of a line continues it. A heredoc's body is passed on exactly as written: nothing in it is expanded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from opsgym.cluster.pflag import Rejected

__all__ = ["Line", "split_line"]

OPERATORS = ("<<<", "<<-", "&>>", "<<", ">>", ">&", "<&", "&>", ">|", "||", "&&", ";;", "|", "&", ";", "<", ">", "(",
             ")")
"""Shell operators, longest first (the lexer takes the longest that matches)."""
NO_SHELL = "actions run without a shell"
SEQUENCE = (f"{NO_SHELL}, so one action is one command: send each kubectl command as its own action (pipes to "
            "filters such as grep, head or jq are fine)")
FILES = (f"redirections to or from files are not supported ({NO_SHELL} and no file system): the output is the "
         "observation, and a manifest goes in a heredoc: kubectl apply -f - <<EOF ... EOF")
STDERR_FORMS = {("2>&1",): "merge", ("2>", "/dev/null"): "discard"}
"""The only redirections an action may use, on the kubectl command: stderr into the pipe, or dropped."""


@dataclass(frozen=True)
class _Word:
    text: str


@dataclass(frozen=True)
class _Op:
    text: str


@dataclass
class Line:
    """An action's command line: the kubectl words, its standard input, the filters after it."""

    kubectl: list[str]
    stdin: str | None = None
    """The heredoc's body (kubectl's standard input), or None when the action has none."""
    heredoc: str = ""
    """The heredoc's delimiter as written (``EOF``), for the record."""
    filters: list[list[str]] = field(default_factory=list)
    """Each filter stage's words, in pipe order (``[["grep", "-i", "error"], ["head", "-5"]]``)."""
    stderr: str = ""
    """``merge`` (``2>&1``: kubectl's errors go down the pipe too), ``discard`` (``2>/dev/null``) or ``""``."""


def _substitution(text: str, i: int) -> bool:
    return text.startswith("$(", i) or text[i] == "`"


def _lex(text: str) -> tuple[list[_Word | _Op], int]:
    """Words and operators up to the first unquoted newline; returns them and where the next line starts."""
    items: list[_Word | _Op] = []
    word: list[str] = []
    started = quoted = False  # a word has begun (an empty quoted word '' counts); some of it was quoted
    i, n = 0, len(text)

    def finish() -> None:
        nonlocal word, started, quoted
        if started:
            items.append(_Word("".join(word)))
        word, started, quoted = [], False, False

    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n:
            if text[i + 1] != "\n":
                word.append(text[i + 1])
                started = True
            i += 2  # an escaped newline continues the line
        elif char == "\n":
            finish()
            return items, i + 1
        elif char in " \t\r":
            finish()
            i += 1
        elif char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise Rejected("cannot parse the command (No closing quotation); check the quotes")
            word.append(text[i + 1:end])
            started, quoted, i = True, True, end + 1
        elif char == '"':
            i = _double_quoted(text, i + 1, word)
            started = quoted = True
        elif _substitution(text, i):
            raise Rejected(f"command substitution ($(...) or backticks) is not supported: {NO_SHELL}")
        elif char in "|&;<>()":
            operator = next(op for op in OPERATORS if text.startswith(op, i))
            i += len(operator)
            if operator[0] in "<>" and started and not quoted and "".join(word).isdigit():
                operator = "".join(word) + operator  # an IO number: 2>&1, 2>/dev/null
                word, started = [], False
            finish()
            items.append(_Op(operator))
        else:
            word.append(char)
            started = True
            i += 1
    finish()
    return items, n


def _double_quoted(text: str, i: int, word: list[str]) -> int:
    """Read a ``"…"`` word body from ``i`` (after the quote) as shlex does; returns the index after the quote."""
    while i < len(text):
        char = text[i]
        if char == '"':
            return i + 1
        if char == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            word.append(text[i + 1])
            i += 2
            continue
        if _substitution(text, i):
            raise Rejected(f"command substitution ($(...) or backticks) is not supported: {NO_SHELL}")
        word.append(char)
        i += 1
    raise Rejected("cannot parse the command (No closing quotation); check the quotes")


def _heredoc_body(rest: str, delimiter: str, strip_tabs: bool) -> str:
    """The lines of ``rest`` up to the delimiter line; nothing but blank lines may follow it."""
    lines = rest.split("\n")
    for index, line in enumerate(lines):
        if (line.lstrip("\t") if strip_tabs else line).rstrip("\r") == delimiter:
            after = "\n".join(lines[index + 1:])
            if after.strip():
                raise Rejected(f"nothing may follow the heredoc's closing {delimiter}: {SEQUENCE}")
            body = lines[:index]
            return "".join((line.lstrip("\t") if strip_tabs else line) + "\n" for line in body)
    raise Rejected(f"the heredoc is not closed: end the manifest with a line holding only {delimiter}")


def _stages(items: list[_Word | _Op]) -> tuple[list[list[_Word | _Op]], str, bool]:
    """Split at ``|``; returns the stages, the heredoc delimiter (``""`` if none) and whether it strips tabs."""
    stages: list[list[_Word | _Op]] = [[]]
    delimiter, strip_tabs = "", False
    index = 0
    while index < len(items):
        item = items[index]
        if isinstance(item, _Op) and item.text == "|":
            stages.append([])
        elif isinstance(item, _Op) and item.text in ("<<", "<<-"):
            following = items[index + 1] if index + 1 < len(items) else None
            if not isinstance(following, _Word) or not following.text or delimiter:
                raise Rejected("a heredoc needs one delimiter word: kubectl apply -f - <<EOF, then the manifest "
                               "lines, then a line holding only EOF")
            delimiter, strip_tabs = following.text, item.text == "<<-"
            stages[-1].append(_Op("<<"))
            index += 1
        else:
            stages[-1].append(item)
        index += 1
    return stages, delimiter, strip_tabs


def _refuse_operator(op: str) -> Rejected:
    if op in (";", ";;", "&&", "||", "&", "(", ")"):
        return Rejected(f"shell syntax ({op!r}) is not supported: {SEQUENCE}")
    if op == "<<<":
        return Rejected("shell syntax ('<<<') is not supported: put a manifest in a heredoc: kubectl apply -f - "
                        "<<EOF ... EOF")
    return Rejected(f"shell syntax ({op!r}) is not supported: {FILES}")


def _words(stage: list[_Word | _Op]) -> tuple[list[str], bool, str]:
    """A stage's words, whether it holds the heredoc, and its stderr redirection (kubectl's stage only)."""
    words: list[str] = []
    heredoc, stderr = False, ""
    index = 0
    while index < len(stage):
        item = stage[index]
        if isinstance(item, _Word):
            words.append(item.text)
        elif item.text == "<<":
            heredoc = True
        else:
            target = stage[index + 1].text if index + 1 < len(stage) and isinstance(stage[index + 1], _Word) else ""
            form = STDERR_FORMS.get((item.text + target,)) or STDERR_FORMS.get((item.text, target))
            if form is None:
                raise _refuse_operator(item.text.lstrip("0123456789") or item.text)
            if stderr:
                raise Rejected(f"one stderr redirection at most: {FILES}")
            stderr = form
            index += 1
        index += 1
    if not words:
        raise Rejected("an empty command in the pipe: write kubectl ... | FILTER ARGS")
    return words, heredoc, stderr


def split_line(action: str) -> Line:
    """Read ``action`` into its kubectl command, stdin and filters. Raises :class:`Rejected` with what to send."""
    text = action.strip()
    items, next_line = _lex(text)
    if not items:
        raise Rejected("kubectl actions start with `kubectl`, e.g. `kubectl get pods -n NAMESPACE`")
    stages, delimiter, strip_tabs = _stages(items)
    parsed = [_words(stage) for stage in stages]
    rest = text[next_line:]
    body = _heredoc_body(rest, delimiter, strip_tabs) if delimiter else None
    if body is None and rest.strip():
        raise Rejected(f"one kubectl command per action, on one line ({SEQUENCE}; a manifest goes in a heredoc)")
    if parsed[0][0][0] == "cat":
        words, heredoc, redirect = parsed.pop(0)
        if words[1:] not in ([], ["-"]) or not heredoc or redirect or not parsed:
            raise Rejected("cat only passes a heredoc on here (there are no files): cat <<EOF | kubectl apply -f -, "
                           "then the manifest lines, then EOF")
    elif parsed[0][0][0] != "kubectl":
        raise Rejected("kubectl actions start with `kubectl`, e.g. `kubectl get pods -n NAMESPACE`")
    elif not parsed[0][1] and body is not None:
        raise Rejected("only kubectl reads the heredoc (kubectl apply -f - <<EOF); filters read kubectl's output")
    kubectl, _, stderr = parsed[0]
    if kubectl[0] != "kubectl":
        raise Rejected("cat <<EOF pipes into kubectl: cat <<EOF | kubectl apply -f -")
    for words, heredoc, redirect in parsed[1:]:
        if heredoc:
            raise Rejected("only kubectl reads the heredoc (kubectl apply -f - <<EOF); filters read kubectl's output")
        if redirect:
            raise Rejected(f"filters take no redirections: {FILES}")
        if words[0] == "kubectl":
            raise Rejected("one kubectl command per action: the filters after it read its output (put a manifest in "
                           "a heredoc instead of piping one kubectl into another)")
    return Line(kubectl=kubectl, stdin=body, heredoc=delimiter, filters=[p[0] for p in parsed[1:]], stderr=stderr)
