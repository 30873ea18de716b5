"""A real browser against a real server: the API under waitress in a thread, Debian's headless chromium.

Selenium drives ``/usr/bin/chromium`` through Debian's ``chromedriver`` (scripts/install-system.sh
installs both), so nothing is downloaded at test time. Screenshots go to ``tests/artifacts/``
(gitignored); each test prints the path of the ones it took.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from core.settings import Settings
from helpers import free_port

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 120
"""Generous bound for anything the page waits on (a render through the queue included)."""


@contextmanager
def live_server(app, settings: Settings) -> Iterator[str]:
    """``app`` served by wenshu's own waitress server on a free loopback port; yields its base URL."""
    from service.server import _Server, adjustments

    port = free_port()
    server = _Server(app, settings, adjustments(settings.with_(host="127.0.0.1", port=port)))
    thread = threading.Thread(target=server.serve_until_stopped, kwargs={"grace": 5}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        thread.join(30)


@contextmanager
def chromium() -> Iterator[webdriver.Chrome]:
    """Headless chromium with its console log readable (``driver.get_log("browser")``)."""
    assert shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER), \
        "chromium and chromium-driver are not installed (make test installs them)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1800", "--lang=zh-CN", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: webdriver.Chrome, condition, seconds: float = WAIT_SECONDS, message: str = ""):
    """``condition(driver)`` once truthy, polling; fails with ``message`` and the page's status line."""
    return WebDriverWait(driver, seconds, poll_frequency=0.2).until(condition, message)


def text_of(driver: webdriver.Chrome, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """Save the whole window as ``tests/artifacts/<name>.png``; print and return the path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def csp_violations(driver: webdriver.Chrome) -> list[str]:
    """Console messages in which the browser reports a Content-Security-Policy refusal."""
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def foreign_requests(driver: webdriver.Chrome, base: str) -> list[str]:
    """URLs the page loaded from anywhere but ``base`` (works offline: there must be none)."""
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert any(url.endswith(".js") for url in loaded), loaded  # the probe sees the page's own script
    return [url for url in loaded if not url.startswith((base + "/", "blob:", "data:"))]
