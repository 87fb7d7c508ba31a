#!/usr/bin/env bash
# Set up a virtual environment and run the test suite (the README's test command).
#
# Where the system Python has DOLFINx (Debian: apt-get install python3-dolfinx), the venv is
# made from it with --system-site-packages and numpy pinned to the system's version, because
# Debian's petsc4py/dolfinx are built against Debian's numpy (a newer numpy from PyPI would
# break them). Elsewhere a plain venv is used and the DOLFINx tests are skipped.
# Extra arguments go to pytest. The suite runs on 2 workers (pytest-xdist) by default.
set -euo pipefail
cd "$(dirname "$0")/.."
if /usr/bin/python3 -c "import dolfinx" >/dev/null 2>&1; then
    venv=.venv-dolfinx
    if [ ! -x "$venv/bin/python" ]; then
        /usr/bin/python3 -m venv --system-site-packages "$venv"
    fi
    /usr/bin/python3 -c "import numpy; print('numpy==' + numpy.__version__)" > "$venv/constraints.txt"
    "$venv/bin/pip" install -q --disable-pip-version-check -c "$venv/constraints.txt" -e '.[test]'
else
    venv=.venv
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -e '.[test]'
fi
# both cores: the suite's tests are independent (each worker has its own mesh cache); set
# EPSIM_TEST_WORKERS=0 to run in one process
workers="${EPSIM_TEST_WORKERS:-2}"
if [ "$workers" != "0" ]; then
    # loadgroup: the tests of one example (xdist_group "example-NAME") share one worker, so
    # each example runs once (tests/example_runs.py); it needs pytest < 9 (pyproject), whose
    # node ids xdist 3.8 can still tag with the group
    exec "$venv/bin/python" -m pytest -q -n "$workers" --dist loadgroup "$@"
fi
exec "$venv/bin/python" -m pytest -q "$@"
