"""``python -m simulator.cli``: the epsim command."""
from simulator.cli import entry

entry()
