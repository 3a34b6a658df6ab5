"""Headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium, for the
console's browser tests and `python -m devtools.screenshots`. Development only."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Where Debian's packages put them; PATH is tried first.
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")
DRIVER_CANDIDATES = ("chromedriver", "/usr/bin/chromedriver")
# Headless in a container: no sandbox (root), no GPU, and nothing fetched from the network
# by the browser itself (updates, sync, field trials), so the page's own requests are all.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
)


class BrowserMissing(RuntimeError):
    """Chromium or its driver is not installed."""


def find(candidates: tuple[str, ...]) -> str:
    for name in candidates:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    raise BrowserMissing(
        f"none of {', '.join(candidates)} found: install Debian's chromium and "
        "chromium-driver (apt-get install -y chromium chromium-driver)")


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A fresh headless Chromium (its own profile) with the browser console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = find(CHROMIUM_CANDIDATES), find(DRIVER_CANDIDATES)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        try:
            driver.set_window_size(width, height)
            yield driver
        finally:
            driver.quit()


def console_errors(driver: Any) -> list[str]:
    """The browser console's errors since the last call (SEVERE entries)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry.get("level") == "SEVERE"]


def full_page_screenshot(driver: Any, path: Path, width: int) -> None:
    """The whole page laid out at `width` CSS pixels (a phone's viewport below 600), however
    tall it is (Chrome DevTools Protocol: metrics override, then a capture beyond the
    viewport)."""
    import base64
    import time

    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        time.sleep(0.5)  # let the layout settle at the new width
        layout = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        height = int(layout["cssContentSize"]["height"]) + 1
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {**metrics, "height": height})
        time.sleep(0.3)
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "fromSurface": True})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
