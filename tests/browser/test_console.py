"""The operator console in headless Chromium against the local stack."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from devtools.browser import console_errors
from devtools.simulators import seed
from tests.e2e.conftest import App

SPB = seed.SPB_SKU_ID
CHOICE = "/orgs/contoso/variables/licencing_choose_subscription"
# The runner checks no key; the page must still send the one it was opened with.
KEY = "local-console-key"


def _failed_hire(app: App) -> str:
    """A hire that ends failed (choice_disabled): buying is switched off for Contoso."""
    event_id = f"hire-console-{uuid.uuid4().hex[:8]}"
    user = f"{event_id}@contoso.com"
    app.simulators.graph.add_user(seed.CONTOSO_TENANT_ID, user, usage_location="US")
    assert app.http.put(CHOICE, json={"value": "0"}).status_code == 200
    app.drop_event({"event_id": event_id, "org_id": "contoso", "user": user,
                    "licenses": [{"sku_id": SPB, "synnex_subscription_id":
                                  seed.SPB_ANNUAL_SUBSCRIPTION_ID}]})
    status = app.wait_for_event(event_id)
    assert status["licenses"][0]["reason"] == "choice_disabled", status
    return event_id


def _open(app: App, browser: Any) -> None:
    browser.get(f"{app.root_url}/api/console?code={KEY}")
    WebDriverWait(browser, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#event-table tbody tr")
        or d.find_element(By.ID, "events-empty").is_displayed())


def _wait(browser: Any, condition: Callable[[Any], Any], seconds: float = 30) -> Any:
    return WebDriverWait(browser, seconds, poll_frequency=0.25).until(condition)


@pytest.fixture
def failed(app: App) -> Iterator[str]:
    """A failed event, and buying switched on again afterwards."""
    event_id = _failed_hire(app)
    yield event_id
    app.http.delete(CHOICE)


class TestConsolePage:
    def test_loads_without_a_console_error(self, app: App, browser: Any) -> None:
        """The page, its script and its first API calls: nothing in the console log."""
        console_errors(browser)  # drop what an earlier page logged
        _open(app, browser)
        time.sleep(1.0)  # the purchases load after the events
        assert console_errors(browser) == []
        assert browser.title == "MSP licensing · console"

    def test_sends_the_key_it_was_opened_with_and_shows_it_nowhere(
        self, app: App, browser: Any
    ) -> None:
        """The key goes out as x-functions-key; the page's HTML never holds it."""
        _open(app, browser)
        assert KEY not in browser.page_source
        sent = browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const original = window.fetch;
            window.fetch = (url, init) => { done(init.headers["x-functions-key"] || null);
                                            return original(url, init); };
            document.getElementById("refresh").click();
        """)
        assert sent == KEY

    def test_lists_a_failure_with_its_reason_and_detail(
        self, app: App, browser: Any, failed: str
    ) -> None:
        """The failed event shows among the failures, with its reason and detail."""
        _open(app, browser)
        card = _wait(browser, ready.visibility_of_element_located(
            (By.CSS_SELECTOR, f'[data-failure="{failed}"]')))
        assert "choice_disabled" in card.text
        assert "licencing_choose_subscription" in card.text
        assert console_errors(browser) == []

    def test_retries_a_failed_event_from_its_button_until_it_completes(
        self, app: App, browser: Any, failed: str
    ) -> None:
        """Buying switched on, Retry pressed: the event buys its seat and completes."""
        _open(app, browser)
        app.http.delete(CHOICE)
        button = _wait(browser, ready.element_to_be_clickable(
            (By.CSS_SELECTOR, f'[data-failure="{failed}"] button[data-retry]')))
        button.click()
        _wait(browser, lambda d: "ended: completed" in d.find_element(By.ID, "notice").text,
              seconds=90)
        status = app.http.get(f"/onboarding/{failed}").json()
        assert status["status"] == "completed"
        assert status["licenses"][0]["state"] == "purchased_and_assigned"
        history = browser.find_element(By.ID, "history")
        assert "retry" in history.text and failed in history.text
        row = browser.find_element(By.CSS_SELECTOR, f'#event-table tr[data-event="{failed}"]')
        assert "completed" in row.text
        purchases = browser.find_element(By.ID, "purchase-body").text
        assert "Microsoft 365 Business Premium" in purchases
        assert console_errors(browser) == []


class TestConsoleLayout:
    @pytest.mark.parametrize("width", [1280, 390])
    def test_fits_the_width_without_sideways_scrolling(
        self, app: App, browser: Any, failed: str, width: int
    ) -> None:
        """Laptop and phone widths: nothing wider than the window."""
        browser.set_window_size(width, 900)
        try:
            _open(app, browser)
            _wait(browser, ready.visibility_of_element_located(
                (By.CSS_SELECTOR, f'[data-failure="{failed}"]')))
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0
        finally:
            browser.set_window_size(1280, 900)

    def test_reaches_the_retry_button_with_the_keyboard(
        self, app: App, browser: Any, failed: str
    ) -> None:
        """Tab from the top reaches the failure's Retry button, with a visible focus ring."""
        _open(app, browser)
        _wait(browser, ready.visibility_of_element_located(
            (By.CSS_SELECTOR, f'[data-failure="{failed}"]')))
        body = browser.find_element(By.TAG_NAME, "body")
        body.click()
        target = None
        for _ in range(40):
            browser.switch_to.active_element.send_keys(Keys.TAB)
            active = browser.switch_to.active_element
            if active.get_attribute("data-retry") == failed:
                target = active
                break
        assert target is not None, "the Retry button is not reachable with Tab"
        outline = browser.execute_script(
            "return getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"
