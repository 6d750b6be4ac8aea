"""A real ``rivers ui`` process on 127.0.0.1 and a free port, over the example pipeline on a SQLite file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

PIPELINE = Path(__file__).with_name("pipeline.py")

__all__ = ["UiProcess"]


class UiProcess:
    """``python -m rivers.cli ui pipeline.py --port 0`` in ``directory``; ``url`` once it listens."""

    def __init__(self, directory: Path, *, slow_s: float = 0.0, extra_args: tuple[str, ...] = ()) -> None:
        shutil.copyfile(PIPELINE, directory / "pipeline.py")
        self.directory = directory
        self.database = directory / "ui.db"
        env = {key: value for key, value in os.environ.items() if not key.startswith("RIVERS_")}
        env.update(PYTHONUNBUFFERED="1", RIVERS_UI_TEST_SLOW=str(slow_s))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rivers.cli", "ui", "pipeline.py", "--port", "0",
             "--storage", f"sqlite:///{self.database}", *extra_args],
            cwd=directory, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output: list[str] = []
        self.url = self._wait_for_url()

    def _wait_for_url(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            found = re.search(r"serving (http://127\.0\.0\.1:\d+)/", line)
            if found:
                return found.group(1)
        self.stop()
        raise AssertionError("rivers ui did not start:\n" + "".join(self.output))

    def stop(self) -> int:
        """SIGTERM, then wait (the exit code; a clean stop is 0)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.output.append(self.process.stdout.read())
            self.process.stdout.close()
        return self.process.returncode
