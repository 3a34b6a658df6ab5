"""The console in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
driven by Selenium against the whole local stack (`tests/e2e/conftest.py`'s `app`).

A machine without the browser fails these tests, never skips them: `.ci/run` installs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.browser import BrowserMissing, chromium
from tests.e2e.conftest import app, pki_dir  # noqa: F401  (the stack's fixtures, reused)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module, 1280 px wide, with its console log."""
    try:
        with chromium(1280, 900) as driver:
            yield driver
    except BrowserMissing as exc:
        pytest.fail(str(exc))
