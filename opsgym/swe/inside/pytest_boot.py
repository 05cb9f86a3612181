"""Start pytest so the tree under test cannot stand in for it: ``python -c <this source> PYTEST_ARGS...``.

``python -m pytest`` puts the working directory first on ``sys.path`` before importing pytest, so a ``pytest.py``
(or ``pytest/``, or a module named like an installed pytest plugin) in the repository would be imported instead of the
real one and could print any verdict. Here the directory is taken off the path while pytest and its installed plugins
load, and put first again (as ``-m`` would have it) before any conftest or test module is imported, so the repository
still imports as it does under ``python -m pytest``. Stdlib and pytest only.
"""

import sys

sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # `-c` puts the working directory first

import os  # noqa: E402

import pytest  # noqa: E402


class _RepositoryFirstOnPath:
    @pytest.hookimpl(tryfirst=True)
    def pytest_load_initial_conftests(self):
        sys.path.insert(0, os.getcwd())


sys.exit(pytest.main(sys.argv[1:], plugins=[_RepositoryFirstOnPath()]))
