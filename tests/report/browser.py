"""A real headless browser for the report's tests: Debian's chromium, started without a sandbox
(tests run as root in CI), without network chatter, in a throw-away profile.

Missing chromium skips a test on a developer's machine but fails it in CI (CI=true): the report's
promise is that a browser shows it, and CI must check that, never skip it (.ci/run installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]? ?(.*)")


@dataclass(frozen=True)
class Rendered:
    dom: str  # the document as the browser built it
    console: list[str]  # every console message the page produced (errors included)
    screenshot: Path


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": CI must render the report in a real browser")
        pytest.skip(message)
    return found


def _run(binary: str, page: Path, profile: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra,
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False)


def render(page: Path, screenshot: Path) -> Rendered:
    binary = chromium()
    with tempfile.TemporaryDirectory() as profile:
        dumped = _run(binary, page, profile, "--dump-dom")
        assert dumped.returncode == 0, dumped.stderr[-2000:]
    with tempfile.TemporaryDirectory() as profile:
        shot = _run(binary, page, profile, f"--screenshot={screenshot}",
                    "--window-size=1200,1400", "--hide-scrollbars")
        assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    console = [m.group(1) for line in (dumped.stderr + shot.stderr).splitlines()
               if (m := _CONSOLE.search(line))]
    return Rendered(dumped.stdout, console, screenshot)
