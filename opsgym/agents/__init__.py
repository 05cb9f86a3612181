"""Agents: the built-ins (oracle, random, human, react) and the Agent protocol plugins implement."""
