"""The local console in a real browser: Debian's headless Chromium, driven through its chromedriver.

One child process (console_env.py) deploys the project on a fresh endpoint, whose server also serves the
console. The tests start MarketingAndSalesETLOrchestrator from the console's form, watch the wait states
wait, upload the sample CSVs, and follow the graph's colours and the event table to the end: one run that
succeeds, one that fails on a sales file holding a date that is not M/D/YYYY (as tests/e2e's failed demo).

With UPDATE_SCREENSHOTS=1 the README's two screenshots are written to resources/, else to a tmp folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from console_env import READY

from tests.child_env import child_environment
from tests.e2e.e2e_support import MARKETING_CSV, ROOT, SALES_CSV, _stop_group

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
MACHINE = "MarketingAndSalesETLOrchestrator"
PARALLEL = "Process Sales And Marketing Data"
WAITS = ("Wait For Sales Data", "Wait For Marketing Data")
GLUE_TASKS = ("Process Sales Data", "Process Marketing Data", "Join Marketing And Sales Data")
SALES_KEY = "sales/SalesPipeline_QuickSightSample.csv"
MARKETING_KEY = "marketing/MarketingData_QuickSightSample.csv"
BAD_DATE = "13/45/2013"
DEPLOY_TIMEOUT_S = 600
RUN_TIMEOUT_S = 420

if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    _NEEDS = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):  # .ci/run installs them: a CI run without them must not pass by skipping
        raise RuntimeError(f"the console's browser tests {_NEEDS}")
    pytest.skip(_NEEDS, allow_module_level=True)


@pytest.fixture(scope="module")
def console() -> Iterator[dict[str, str]]:
    """The deployed endpoint and its console: {"endpoint", "console", "data_bucket"}."""
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("console_env.py"))],
        cwd=ROOT,
        env=child_environment(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    log: list[str] = []

    def pump() -> None:
        for line in child.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    facts = None
    give_up = time.monotonic() + DEPLOY_TIMEOUT_S
    while facts is None:
        try:
            line = lines.get(timeout=max(0.1, give_up - time.monotonic()))
        except queue.Empty:
            line = None
        if line is None:
            _stop_group(child)
            pytest.fail("the console environment did not come up:\n" + "".join(log[-80:]))
        log.append(line)
        if line.startswith(READY):
            facts = json.loads(line[len(READY) :])
    try:
        yield facts
    finally:
        with contextlib.suppress(OSError):
            child.stdin.close()  # type: ignore[union-attr]
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            _stop_group(child)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "1"  # Selenium Manager must never try to download a browser or driver
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1320,1320",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def s3(console: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=console["endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def screenshot_path(name: str, tmp_path: Path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        return ROOT / "resources" / name
    return tmp_path / name


# --- reading the page ---------------------------------------------------------------------------------------


def statuses(driver: Any) -> dict[str, str]:
    """State name → the status its graph node is coloured with."""
    classes = driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('g.state')]"
        ".map(g => [g.dataset.state, g.getAttribute('class')]));"
    )
    found = {}
    for name, cls in classes.items():
        status = [part for part in cls.split() if part.startswith("st-")]
        found[name] = status[0].removeprefix("st-") if status else "?"
    return found


def wait_for(driver: Any, condition: Callable[[Any], Any], timeout_s: float, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout_s, poll_frequency=0.25).until(condition)
    except TimeoutException:
        pytest.fail(f"timed out waiting for {what}; graph: {statuses(driver)}")


def event_types(driver: Any) -> list[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#events tbody tr')].map(tr => tr.dataset.type);"
    )


def start_from_form(driver: Any, console: dict[str, str], name: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(console["console"])
    Select(driver.find_element(By.ID, "machine")).select_by_visible_text(MACHINE)
    driver.find_element(By.ID, "name").send_keys(name)
    field = driver.find_element(By.ID, "input")
    field.clear()
    field.send_keys("{}")
    driver.find_element(By.ID, "start").click()
    wait_for(driver, lambda d: "/execution?" in d.current_url, 30, "the execution page")


def follow_run(driver: Any, timeout_s: float = RUN_TIMEOUT_S) -> dict[str, set[str]]:
    """Watch the graph until the execution ends; every status each state was seen with."""
    from selenium.webdriver.common.by import By

    seen: dict[str, set[str]] = {}
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        for name, status in statuses(driver).items():
            seen.setdefault(name, set()).add(status)
        if driver.find_element(By.ID, "exec-status").text not in ("RUNNING", ""):
            for name, status in statuses(driver).items():
                seen.setdefault(name, set()).add(status)
            return seen
        time.sleep(0.2)
    pytest.fail(f"the execution did not end in {timeout_s} s; graph: {statuses(driver)}")


def select_state(driver: Any, name: str) -> str:
    """Click a state in the graph; the text of its details panel."""
    from selenium.webdriver.common.by import By

    driver.execute_script(
        'document.querySelector(`g.state[data-state="${arguments[0]}"]`)'
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}));",
        name,
    )
    wait_for(driver, lambda d: name in d.find_element(By.ID, "details-body").text, 10, f"{name}'s details")
    return driver.find_element(By.ID, "details-body").text


# --- the tests ----------------------------------------------------------------------------------------------


def test_form_refuses_input_that_is_not_json(browser: Any, console: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(console["console"])
    Select(browser.find_element(By.ID, "machine")).select_by_visible_text(MACHINE)
    field = browser.find_element(By.ID, "input")
    field.clear()
    field.send_keys('{"missing": "brace"')
    browser.find_element(By.ID, "start").click()
    error = wait_for(browser, lambda d: d.find_elements(By.ID, "start-error"), 30, "the form's error")[0]
    assert error.text.startswith("the input is not JSON"), error.text
    assert browser.find_element(By.ID, "input").get_attribute("value") == '{"missing": "brace"'  # kept


def test_successful_run_started_from_the_form(
    browser: Any, console: dict[str, str], s3: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    start_from_form(browser, console, "console-success")
    wait_for(
        browser,
        lambda d: all(statuses(d).get(w) == "waiting" for w in WAITS),
        120,
        "both wait states waiting for a worker",
    )
    graph = statuses(browser)
    assert graph["Pre-process"] == "succeeded" and graph[PARALLEL] == "running"
    assert {graph[name] for name in GLUE_TASKS} == {"notreached"}
    wait_for(browser, lambda d: "ActivityScheduled" in event_types(d), 30, "the event table")
    assert "waiting for a worker" in select_state(browser, WAITS[0])
    browser.save_screenshot(str(screenshot_path(f"{MACHINE}-notstarted.png", tmp_path)))

    s3.upload_file(str(SALES_CSV), console["data_bucket"], SALES_KEY)
    s3.upload_file(str(MARKETING_CSV), console["data_bucket"], MARKETING_KEY)
    seen = follow_run(browser)

    assert browser.find_element(By.ID, "exec-status").text == "SUCCEEDED"
    assert any("running" in seen[name] for name in GLUE_TASKS), seen  # a Glue job seen running
    final = statuses(browser)
    reached = [name for name in final if name not in ("ETL Job Failed Fallback", "ETL Job Failed")]
    assert {final[name] for name in reached} == {"succeeded"}, final
    assert final["ETL Job Failed Fallback"] == final["ETL Job Failed"] == "notreached"
    types = event_types(browser)
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    assert types.count("ActivitySucceeded") == 5  # two waits, three Glue jobs

    details = select_state(browser, "Join Marketing And Sales Data")
    assert "GlueJobRunId" in details and "succeeded" in details
    browser.save_screenshot(str(screenshot_path(f"{MACHINE}-success.png", tmp_path)))

    glue_link = browser.find_element(By.PARTIAL_LINK_TEXT, "Glue job runs of JoinMarketingAndSalesData")
    glue_link.click()
    run_row = wait_for(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, "tr[id^='run-jr_']"), 30, "Glue runs"
    )
    assert "SUCCEEDED" in run_row[0].text


def test_executions_page_lists_the_run_newest_first(browser: Any, console: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(console["console"])
    browser.find_element(By.LINK_TEXT, MACHINE).click()
    rows = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#executions tr"), 30, "executions")
    first = rows[1].text  # rows[0]: the header
    assert first.startswith("console-success") and "SUCCEEDED" in first and " s" in first


def test_bucket_pages_link_downloads_of_inputs_and_results(browser: Any, console: dict[str, str]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(console["console"] + "s3")
    buckets = browser.find_element(By.ID, "buckets").text
    assert console["data_bucket"] in buckets
    browser.find_element(By.LINK_TEXT, console["data_bucket"]).click()
    link = browser.find_element(By.LINK_TEXT, SALES_KEY)
    with urllib.request.urlopen(link.get_attribute("href")) as answer:
        assert answer.read() == SALES_CSV.read_bytes()
    browser.get(console["console"] + "s3")
    browser.find_element(By.LINK_TEXT, console["artifact_bucket"]).click()
    parquet = [
        a
        for a in browser.find_elements(By.CSS_SELECTOR, "#objects a")
        if "etl-output/marketing-and-sales/" in a.text and a.text.endswith(".parquet")
    ]
    assert parquet, browser.find_element(By.ID, "objects").text
    with urllib.request.urlopen(parquet[0].get_attribute("href")) as answer:
        assert answer.read(4) == b"PAR1"


def test_failed_run_shows_the_failed_state_and_its_cause(
    browser: Any, console: dict[str, str], s3: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    lines = SALES_CSV.read_text(encoding="utf-8").splitlines()
    good = [line for line in lines[1:] if ",Lead," in line][:2]
    bad = good[0].replace(good[0].split(",", 1)[0], BAD_DATE, 1)
    bad_sales = tmp_path / "sales-with-a-bad-date.csv"
    bad_sales.write_text("\n".join([lines[0], *good, bad]) + "\n", encoding="utf-8")

    start_from_form(browser, console, "console-failure")
    wait_for(browser, lambda d: all(statuses(d).get(w) == "waiting" for w in WAITS), 120, "the waits")
    s3.upload_file(str(bad_sales), console["data_bucket"], SALES_KEY)
    s3.upload_file(str(MARKETING_CSV), console["data_bucket"], MARKETING_KEY)
    follow_run(browser)

    assert browser.find_element(By.ID, "exec-status").text == "FAILED"
    final = statuses(browser)
    assert final["Process Sales Data"] == "failed"
    assert final[PARALLEL] == "caught"
    assert final["ETL Job Failed Fallback"] == "succeeded"
    assert final["ETL Job Failed"] == "failed"
    assert final["Join Marketing And Sales Data"] == "notreached"
    assert "GlueJobFailedError" in browser.find_element(By.ID, "exec-error").text
    details = select_state(browser, "Process Sales Data")
    assert "failed" in details and "GlueJobFailedError" in details and BAD_DATE in details
    assert event_types(browser)[-1] == "ExecutionFailed"
    browser.save_screenshot(str(tmp_path / f"{MACHINE}-failed.png"))

    browser.find_element(By.PARTIAL_LINK_TEXT, "Glue job runs of ProcessSalesData").click()
    failed_runs = wait_for(
        browser,
        lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "tr[id^='run-jr_']") if "FAILED" in r.text],
        30,
        "the failed Glue run",
    )
    assert BAD_DATE in failed_runs[0].text
