"""Build a :class:`Config` from tokens and give typed access to it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tinyini.errors import ParseError
from tinyini.lexer import tokenize
from tinyini.values import QUOTES, to_bool, to_list, unquote

__all__ = ["Config", "load", "loads"]

T = TypeVar("T")
_MISSING = object()


class Config:
    """Parsed configuration: section names and keys are case-insensitive."""

    def __init__(self) -> None:
        self._sections: dict[str, dict[str, str]] = {}

    def sections(self) -> list[str]:
        return list(self._sections)

    def __contains__(self, section: str) -> bool:
        return section.lower() in self._sections

    def items(self, section: str) -> dict[str, str]:
        return dict(self._section(section))

    def _section(self, section: str) -> dict[str, str]:
        try:
            return self._sections[section.lower()]
        except KeyError:
            raise KeyError(f"no section [{section}]") from None

    def get(self, section: str, key: str, default: object = _MISSING) -> str:
        values = self._section(section)
        if key.lower() in values:
            return values[key.lower()]
        if default is _MISSING:
            raise KeyError(f"no key {key!r} in section [{section}]")
        return default  # type: ignore[return-value]

    def _typed(self, section: str, key: str, convert: Callable[[str], T], default: object) -> T:
        raw = self.get(section, key, default)
        if raw is default and default is not _MISSING:
            return default  # type: ignore[return-value]
        try:
            return convert(raw)
        except ValueError as exc:
            raise ValueError(f"[{section}] {key}: {exc}") from None

    def getint(self, section: str, key: str, default: object = _MISSING) -> int:
        return self._typed(section, key, int, default)

    def getbool(self, section: str, key: str, default: object = _MISSING) -> bool:
        return self._typed(section, key, to_bool, default)

    def getlist(self, section: str, key: str, default: object = _MISSING) -> list[str]:
        return self._typed(section, key, to_list, default)


def loads(text: str) -> Config:
    """Parse configuration text; raises :class:`ParseError` with the offending line."""
    config = Config()
    current: dict[str, str] | None = None
    last_key = ""
    last_quoted = False
    for token in tokenize(text):
        if token.kind == "section":
            if token.name.lower() in config._sections:
                raise ParseError(token.line, f"duplicate section [{token.name}]")
            current = config._sections[token.name.lower()] = {}
        elif current is None:
            raise ParseError(token.line, "assignment before the first [section]")
        elif token.kind == "assign":
            last_key = token.name.lower()
            last_quoted = token.value[:1] in QUOTES
            if last_key in current:
                raise ParseError(token.line, f"duplicate key {token.name!r}")
            try:
                current[last_key] = unquote(token.value)
            except ValueError as exc:
                raise ParseError(token.line, str(exc)) from None
        else:
            if last_quoted:
                raise ParseError(token.line, "quoted values cannot continue on the next line")
            current[last_key] = f"{current[last_key]}\n{token.value}" if current[last_key] else token.value
    return config


def load(path: str | Path) -> Config:
    """Parse the file at ``path`` (UTF-8)."""
    return loads(Path(path).read_text(encoding="utf-8"))
