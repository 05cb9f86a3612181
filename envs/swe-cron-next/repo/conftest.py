"""Makes the package importable when pytest is run from the repository root."""
