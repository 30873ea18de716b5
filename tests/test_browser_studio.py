"""/studio in a real browser, with API keys on: lint, variable tree, preview, save, diff, hostile input.

The page talks to the real API (waitress on a free port) with a real worker and LibreOffice
behind it; what the tests check is what an author sees on the page, plus the text of the PDF
the preview was drawn from (downloaded with the key, read with pdftotext).
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from browser import chromium, csp_violations, foreign_requests, live_server, screenshot, text_of, wait_for
from helpers import docx_with, pdf_text, put_template

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
KEY = "studio-test-key"
HOSTILE = '<img src=x onerror="window.__pwned=1;alert(1)">'
SCRIPT = '"><script>window.__pwned=1;alert(1)</script>'


@pytest.fixture(scope="module")
def studio(settings, workers, tmp_path_factory):
    """(driver, base URL, API test client, a folder for .docx files) — one server and browser per module."""
    from service.app import create_app

    app = create_app(settings.with_(api_keys=(KEY,)))
    with live_server(app, settings) as base, chromium() as driver:
        driver.get(base + "/studio")
        yield driver, base, app.test_client(), tmp_path_factory.mktemp("studio-docx")


def api_get(base: str, path: str) -> bytes:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def act(driver, button: str, label: str) -> str:
    """Click ``button``, wait until the status line says the action ``label`` ended; return the line."""
    driver.execute_script("document.getElementById('status').textContent = ''")
    driver.find_element(By.ID, button).click()
    return wait_for(driver, lambda d: _ended(text_of(d, "status"), label), message=f"{label} did not end")


def _ended(line: str, label: str) -> str | None:
    return line if line.startswith(label) and (": done" in line or "failed" in line) else None


def drop(driver, folder, filename: str, docx: bytes) -> str:
    """Choose a .docx in the page's file input (what a drop does); return the status line."""
    path = folder / filename
    path.write_bytes(docx)
    driver.execute_script("document.getElementById('status').textContent = ''")
    driver.find_element(By.ID, "file").send_keys(str(path))
    return wait_for(driver, lambda d: _ended(text_of(d, "status"), "Linting"), message="lint did not end")


def set_data(driver, data) -> None:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    driver.execute_script("document.getElementById('data').value = arguments[0]", text)


def loaded_images(driver, box: str) -> list:
    """The images in ``box`` once the browser decoded them (non-zero natural width)."""
    images = driver.find_elements(By.CSS_SELECTOR, f"#{box} img")
    return [i for i in images if driver.execute_script("return arguments[0].naturalWidth", i) > 0]


def enter_key(driver) -> None:
    """Type the key into the page (once per tab: it stays in sessionStorage), as an author would."""
    if driver.execute_script("return sessionStorage.getItem('wenshu.studio.key')") == KEY:
        return
    driver.find_element(By.ID, "key").send_keys(KEY)
    driver.execute_script("document.getElementById('status').textContent = ''")
    driver.find_element(By.ID, "key-save").click()
    wait_for(driver, lambda d: _ended(text_of(d, "status"), "Loading templates"))


def test_studio_page_asks_for_a_key_then_lists_templates(studio):
    driver, base, _, _ = studio
    wait_for(driver, lambda d: "failed" in text_of(d, "status"))
    assert "401" in text_of(driver, "status") or "Authorization" in text_of(driver, "status")
    enter_key(driver)
    assert "failed" not in text_of(driver, "status")
    names = [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "#template-select option")]
    assert {"gov-info-annual-report-2021", "invoice"} <= set(names), names  # the bundled templates
    assert driver.execute_script("return sessionStorage.getItem('wenshu.studio.key')") == KEY
    assert KEY not in driver.current_url


def test_page_and_assets_carry_a_strict_csp(studio):
    _, base, _, _ = studio
    for path in ("/studio", "/studio/static/studio.js", "/studio/static/studio.css"):
        with urllib.request.urlopen(base + path, timeout=30) as response:
            csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path


def test_typo_shows_in_the_tree_and_warnings_then_fixed_data_previews(studio):
    driver, base, _, folder = studio
    enter_key(driver)
    typo = docx_with("录用通知：{{ candidate.nmae }}", "岗位：{{ candidate.position }}",
                     "{%p for item in salary_item %}", "{{ item.label }}：{{ item.amount }}", "{%p endfor %}")
    assert "failed" not in drop(driver, folder, "offer.docx", typo)
    tree = {node.text for node in driver.find_elements(By.CSS_SELECTOR, "#variables code")}
    assert {"candidate.nmae", "candidate.position", "salary_item[].amount", "salary_item[].label"} <= tree, tree
    assert driver.find_element(By.ID, "name").get_attribute("value") == "offer"  # suggested from the file
    skeleton = json.loads(driver.find_element(By.ID, "data").get_attribute("value"))
    assert set(skeleton["candidate"]) == {"nmae", "position"}, skeleton  # prefilled from the template's variables
    assert set(skeleton["salary_item"][0]) == {"label", "amount"}, skeleton

    salary = [{"label": "基本工资", "amount": "8000"}]
    set_data(driver, {"candidate": {"name": "张三", "position": "工程师"}, "salary_items": salary})
    assert "failed" not in act(driver, "preview", "Preview")
    warnings = text_of(driver, "warnings")
    assert "candidate.nmae" in warnings and "salary_item" in warnings, warnings
    screenshot(driver, "studio-typo-warning")

    set_data(driver, {"candidate": {"nmae": "张三", "position": "工程师"}, "salary_item": salary})
    assert "failed" not in act(driver, "preview", "Preview")
    assert text_of(driver, "warnings") == ""
    assert len(loaded_images(driver, "pages")) == 1
    job = driver.find_element(By.ID, "job-id").get_attribute("data-job")
    pdf = api_get(base, f"/v1/renders/{job}?download=pdf")
    assert {"录用通知：张三", "岗位：工程师", "基本工资：8000"} <= set(pdf_text(pdf).split()), pdf_text(pdf)
    screenshot(driver, "studio-preview")


def test_save_two_versions_and_see_the_change_boxed(studio):
    driver, _, _, folder = studio
    enter_key(driver)
    drop(driver, folder, "offer-v1.docx", docx_with("录用通知：{{ candidate.name }}", "月薪：{{ salary }} 元"))
    driver.find_element(By.ID, "name").clear()
    driver.find_element(By.ID, "name").send_keys("studio-offer")
    set_data(driver, {"candidate": {"name": "张三"}, "salary": "8000"})
    assert "failed" not in act(driver, "save", "Saving")
    assert "saved new version" in text_of(driver, "save-result")

    drop(driver, folder, "offer-v2.docx", docx_with("录用通知：{{ candidate.name }}", "年薪：{{ salary }} 万元"))
    driver.find_element(By.ID, "name").clear()
    driver.find_element(By.ID, "name").send_keys("studio-offer")
    set_data(driver, {"candidate": {"name": "张三"}, "salary": "8000"})
    assert "failed" not in act(driver, "save", "Saving")
    versions = driver.find_elements(By.CSS_SELECTOR, "#versions li")
    assert len(versions) == 2, [v.text for v in versions]

    status = act(driver, "diff", "Comparing")
    assert "failed" not in status, status
    summary = text_of(driver, "diff-summary")
    assert "changed region" in summary and "no visible change" not in summary, summary
    assert len(loaded_images(driver, "diff-pages")) == 2  # the page as it was, and as it is with boxes
    screenshot(driver, "studio-diff")


def test_stored_template_opens_with_its_sample_and_previews(studio):
    driver, base, api, _ = studio
    enter_key(driver)
    response = put_template(_Authed(api, {"Authorization": f"Bearer {KEY}"}), "studio-stored",
                            docx_with("单位：{{ org.name }}"), sample={"org": {"name": "示例市人民政府"}})
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    act(driver, "refresh-templates", "Loading templates")
    driver.find_element(By.CSS_SELECTOR, "#template-select option[value='studio-stored']").click()
    assert "failed" not in act(driver, "load-template", "Opening")
    assert json.loads(driver.find_element(By.ID, "data").get_attribute("value")) == {"org": {"name": "示例市人民政府"}}
    assert "org.name" in text_of(driver, "variables")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#versions li")) == 1
    assert "failed" not in act(driver, "preview", "Preview")
    assert len(loaded_images(driver, "pages")) == 1
    job = driver.find_element(By.ID, "job-id").get_attribute("data-job")
    assert "单位：示例市人民政府" in pdf_text(api_get(base, f"/v1/renders/{job}?download=pdf"))
    screenshot(driver, "studio-stored")
    assert foreign_requests(driver, base) == []


def test_hostile_names_messages_and_values_stay_text(studio):
    driver, base, api, folder = studio
    enter_key(driver)
    # A stored template whose title is markup: the list shows it as text.
    auth = {"Authorization": f"Bearer {KEY}"}
    response = put_template(_Authed(api, auth), "studio-hostile", docx_with("{{ x }}"), meta={"title": SCRIPT})
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    act(driver, "refresh-templates", "Loading templates")
    options = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#template-select option")]
    assert any(SCRIPT in o for o in options), options

    # A lint message quoting a tag full of markup.
    drop(driver, folder, "hostile.docx", docx_with("{{ x " + HOSTILE + " }}"))
    assert HOSTILE in text_of(driver, "problems"), text_of(driver, "problems")

    # A data value full of markup, and a template name the registry refuses.
    set_data(driver, {"x": HOSTILE})
    driver.find_element(By.ID, "name").clear()
    driver.find_element(By.ID, "name").send_keys(HOSTILE)
    status = act(driver, "save", "Saving")
    assert "failed" in status and HOSTILE in status, status

    screenshot(driver, "studio-hostile")
    assert driver.execute_script("return window.__pwned") is None
    assert driver.title == "wenshu studio"
    assert not driver.find_elements(By.CSS_SELECTOR, "#problems img, #template-select script, #status img")
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - reading it is how selenium asks whether one is open
    assert csp_violations(driver) == []


class _Authed:
    """The Flask test client with the bearer key on every request (for put_template)."""

    def __init__(self, client, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def put(self, *args, **kwargs):
        return self.client.put(*args, headers=self.headers, **kwargs)
