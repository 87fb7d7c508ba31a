"""The epsim version (one definition; the package metadata reads it too)."""
__version__ = "0.2.0"
