"""An example third-party rivers plugin (see ``plugin.py`` for the hooks)."""

from rivers_example_plugin.io import JsonFileIOHandler

__all__ = ["JsonFileIOHandler"]
