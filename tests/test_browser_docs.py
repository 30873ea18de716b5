"""/docs in a real browser: Swagger UI 5 reads the OpenAPI 3.1 document and lists the operations."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from browser import chromium, csp_violations, foreign_requests, live_server, screenshot, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def docs_page(app, settings):
    with live_server(app, settings) as base, chromium() as driver:
        driver.get(base + "/docs")
        driver.base = base
        yield driver


def test_docs_lists_the_operations(docs_page):
    driver = docs_page
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"),
             message="Swagger UI listed no operation")
    paths = {e.get_attribute("data-path") for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/v1/renders", "/v1/templates/{name}", "/v1/templates/lint"} <= paths, sorted(paths)
    assert "Unable to render this definition" not in driver.page_source
    assert not driver.find_elements(By.CSS_SELECTOR, ".errors-wrapper"), "Swagger UI reports problems with the document"
    screenshot(driver, "docs")
    assert foreign_requests(driver, driver.base) == []  # Swagger UI's assets are served by the API itself


def test_docs_run_under_a_strict_csp_without_violations(docs_page, app):
    csp = app.test_client().get("/docs").headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    wait_for(docs_page, lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock"))
    assert csp_violations(docs_page) == []
