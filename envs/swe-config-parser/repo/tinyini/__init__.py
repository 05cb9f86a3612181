"""A small, strict INI dialect for service configuration files."""

from tinyini.errors import ParseError
from tinyini.parser import Config, load, loads

__all__ = ["Config", "ParseError", "load", "loads"]
