"""The rivers plugin of rivers-ui: contributes the ``ui`` command to ``rivers``.

Importing this module is cheap; Starlette and uvicorn are imported when the command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import rivers.plugins

__all__ = ["rivers_cli_commands"]


@rivers.plugins.hookimpl
def rivers_cli_commands() -> dict[str, Callable[[Any, list[argparse.ArgumentParser]], None]]:
    """``rivers ui``: serve the web UI of a repository."""
    from rivers_ui import command

    return {"ui": command.add_parser}
