"""epsim: electroporation pulse-protocol simulator (scenario -> mesh -> field -> coverage)."""
__version__ = "0.1.0"
