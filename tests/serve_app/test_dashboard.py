"""The dashboard and the API docs in a real headless Chromium (Debian's chromium and
chromedriver; .ci/run installs them): DOM assertions, actions through the page, every asset from
the app itself, and a screenshot in build/test-artifacts/."""
from __future__ import annotations

import os
import shutil
import tempfile
import time

import pytest

from drivers.simulator.control import rest_access

from ..helpers import ROOT, wait_for

ARTIFACTS = os.path.join(ROOT, "build", "test-artifacts")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

webdriver = pytest.importorskip("selenium.webdriver")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):   # .ci/run installs both
    pytest.fail("Debian's chromium and chromium-driver are required (apt-get install chromium chromium-driver)",
                pytrace=False)

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="delfin-dm-chromium-")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1400,1000", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def only_local_assets(driver, base: str) -> list[str]:
    names = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [n for n in names if not n.startswith(base)]


def cell_text(driver, sid: str, css: str) -> str:
    return fresh(lambda: driver.find_element(By.CSS_SELECTOR, f'#storages tr[data-id="{sid}"] {css}').text)


def click(driver, sid: str, css: str = "") -> None:
    fresh(lambda: driver.find_element(By.CSS_SELECTOR, f'#storages tr[data-id="{sid}"] {css}'.strip()).click())


def fresh(action, tries: int = 5):
    """The table is redrawn every few seconds: look the element up again if it went stale."""
    for attempt in range(tries):
        try:
            return action()
        except StaleElementReferenceException:
            if attempt == tries - 1:
                raise
            time.sleep(0.2)


def test_dashboard_shows_state_metrics_and_acts(api, simulator, browser):
    arr = simulator.add_array(perf_interval=2, sizes={"volumes": 4})
    other = simulator.add_array(sizes={"volumes": 2})
    sid = api("POST", "/v1/storages", json=rest_access(arr, resource_metrics={"volume": ["iops"]},
                                                       collect_interval=2)).json()["id"]
    other_id = api("POST", "/v1/storages", json={**rest_access(other), "storage_name": "to-remove"}).json()["id"]
    def timestamps() -> int:
        rows = api("GET", f"/v1/storages/{sid}/metrics", headers={"Accept": "application/json"}).json()["metrics"]
        return len({r["timestamp"] for r in rows})
    wait_for(lambda: timestamps() >= 3, 60, what="three sampled timestamps")

    browser.get(api.url + "/ui")
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f'#storages tr[data-id="{sid}"]'))
    assert cell_text(browser, sid, ".state") == "ready"
    assert cell_text(browser, sid, ".sessions") == "1"
    assert cell_text(browser, sid, ".driver") == "simulator rest"
    assert cell_text(browser, sid, ".endpoint") == f"127.0.0.1:{arr['rest_port']}"
    assert "ago" in cell_text(browser, sid, ".last-collection")
    assert "ready" in browser.find_element(By.ID, "summary").text

    # the chart, fed by the Arrow route, decoded in the page
    click(browser, sid, ".name")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart polyline")) == 1
               and "points" in d.find_element(By.ID, "chart-info").text)
    # the chart reloads with the table; a load that meets the newest window being written can
    # show fewer timestamps than are on disk (seen once in a fresh-clone run), the next one all
    def chart_points():
        return fresh(lambda: browser.find_element(By.CSS_SELECTOR, "#chart polyline").get_attribute("points").split())
    wait.until(lambda d: len(chart_points()) >= 2)
    assert len(chart_points()) >= 2
    assert "iops" in browser.find_element(By.ID, "chart-title").text

    # sync, behind a confirmation
    click(browser, sid, 'button[data-action="sync"]')
    wait.until(EC.alert_is_present()).accept()
    wait.until(lambda d: "sync of" in d.find_element(By.ID, "status").text)

    # update the access info through the dialog, confirmed: one more login at the array
    logins = simulator.stats(arr["name"])["logins"]
    click(browser, sid, 'button[data-action="access-info"]')
    dialog = wait.until(EC.visibility_of_element_located((By.ID, "access-dialog")))
    dialog.find_element(By.NAME, "password").send_keys(arr["users"]["admin"])
    dialog.find_element(By.ID, "access-ok").click()
    wait.until(EC.alert_is_present()).accept()
    wait.until(lambda d: "updated" in d.find_element(By.ID, "status").text)
    assert simulator.stats(arr["name"])["logins"] == logins + 1

    # remove: cancelled first (nothing happens), then confirmed
    click(browser, other_id, 'button[data-action="remove"]')
    wait.until(EC.alert_is_present()).dismiss()
    time.sleep(0.5)
    assert api("GET", f"/v1/storages/{other_id}").status_code == 200
    click(browser, other_id, 'button[data-action="remove"]')
    wait.until(EC.alert_is_present()).accept()
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, f'#storages tr[data-id="{other_id}"]'))
    assert api("GET", f"/v1/storages/{other_id}").status_code == 404

    assert only_local_assets(browser, api.url) == []
    os.makedirs(ARTIFACTS, exist_ok=True)
    assert browser.save_screenshot(os.path.join(ARTIFACTS, "dashboard.png"))
    api("DELETE", f"/v1/storages/{sid}")


@pytest.mark.parametrize("path,ready", [("/docs", ".swagger-ui .opblock"), ("/redoc", "[data-section-id]")])
def test_api_docs_render_offline(api, browser, path, ready):
    browser.get(api.url + path)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ready))
    assert "/v1/storages" in browser.page_source
    assert only_local_assets(browser, api.url) == []
    os.makedirs(ARTIFACTS, exist_ok=True)
    browser.save_screenshot(os.path.join(ARTIFACTS, f"{path.strip('/')}.png"))
