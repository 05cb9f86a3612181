"""CLI command modules; each registers its commands on :data:`opsgym.cli.app` when imported by opsgym.cli."""
