"""The version of rivers-core (``rivers.__version__``), where any layer may read it."""

__version__ = "0.1.0"
