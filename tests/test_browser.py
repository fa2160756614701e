"""End to end: the real app served by `streamlit run`, driven in headless Chromium (Debian's package) via Playwright.

Runs when /usr/bin/chromium (or $CHROMIUM) and the playwright package are present; .ci/run installs both.
Screenshots land in $SCREENSHOT_DIR (default: the test's tmp dir) for a person to look at.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PHONE = {"width": 420, "height": 900}
EXAMPLES = "How many labelled examples do you have?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = free_port()
    cwd = tmp_path_factory.mktemp("app")  # the probe cache (.tuning_advisor_cache) goes here, not into the checkout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(APP.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
                               "--server.port", str(port), "--server.address", "127.0.0.1",
                               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("streamlit did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_app(browser, url, **viewport):
    page = browser.new_page(viewport=viewport or {"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(url)
    page.get_by_text("Recommended:").first.wait_for(timeout=60_000)
    page.locator("[data-testid=stTable]").first.wait_for(timeout=30_000)
    return page


def recommended(page, method: str):
    heading = page.locator("h3").filter(has_text="Recommended").filter(has_text=method)
    heading.wait_for(timeout=30_000)
    return heading


def visible_on_top(page, locator) -> bool:
    """True when the middle of the element is what a person sees there (nothing, e.g. the sidebar, covers it)."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    return page.evaluate("([x, y, w, h]) => { const e = document.elementFromPoint(x + w / 2, y + h / 2);"
                         " return e !== null && e.closest('h3') !== null; }",
                         [box["x"], box["y"], min(box["width"], 200), box["height"]])


def test_questionnaire_upload_error_and_phone_width_in_a_real_browser(app_url, shots, tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine", "label": "a"}\n{"text": "bad", label\n')
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = open_app(browser, app_url)
        recommended(page, "LoRA")
        examples = page.get_by_role("spinbutton", name=EXAMPLES)
        examples.fill("20")
        examples.press("Tab")
        page.get_by_role("button", name="Get advice").click()
        recommended(page, "Few-shot prompting")
        assert page.get_by_role("heading", name="What would change the answer").count() == 1
        with page.expect_download() as download_info:
            page.get_by_role("button", name="Download report (JSON)").click()
        report = json.loads(Path(download_info.value.path()).read_text())
        assert report["recommendation"]["method"] == "few_shot" and report["situation"]["n_labeled_examples"] == 20

        page.locator("input[type=file]").set_input_files(str(broken))
        error = page.get_by_text("broken.jsonl could not be read")
        error.wait_for(timeout=30_000)
        assert error.inner_text() == "broken.jsonl could not be read: it is not valid JSON Lines (one JSON object per line)."
        assert "/tmp" not in page.locator("[data-testid=stMain]").inner_text()
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / "app-desktop.png"), full_page=True)

        phone = open_app(browser, app_url, **PHONE)
        assert visible_on_top(phone, recommended(phone, "LoRA"))  # the sidebar starts closed on a phone
        table = phone.locator("[data-testid=stTable]").first
        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]  # the ranked table is not cut off
        assert table.evaluate("e => [...e.querySelectorAll('*')].every(c => c.scrollWidth <= c.clientWidth + 1)")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.screenshot(path=str(shots / "app-phone.png"))

        phone.get_by_test_id("stExpandSidebarButton").click()
        examples = phone.get_by_role("spinbutton", name=EXAMPLES)
        examples.fill("20")
        examples.press("Tab")
        phone.get_by_role("button", name="Get advice").click()
        heading = recommended(phone, "Few-shot prompting")
        phone.locator("[data-testid=stSidebar][data-collapsed=true]").wait_for(state="attached", timeout=30_000)
        assert visible_on_top(phone, heading)  # after advice the sidebar gets out of the way
        phone.screenshot(path=str(shots / "app-phone-after-advice.png"))
        browser.close()


@pytest.mark.browser  # opt-in (--run-browser): trains a tiny model twice (about a minute on 2 CPU cores)
def test_upload_run_and_cancel_probes_in_a_real_browser(app_url, shots, tmp_path):
    import pandas as pd

    from tiny_models import sentiment_rows, tiny_bert

    model_dir = tiny_bert(tmp_path / "tiny-bert")
    good = tmp_path / "reviews.csv"
    pd.DataFrame(sentiment_rows(200)).rename(columns={"text": "review", "label": "stars"}).to_csv(good, index=False)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = open_app(browser, app_url, width=1400, height=1600)
        page.locator("input[type=file]").set_input_files(str(good))
        page.get_by_text("reviews.csv: 200 rows").wait_for(timeout=30_000)
        assert page.locator('input[aria-label="Text column"]').input_value() == "review"
        assert page.locator('input[aria-label="Label column"]').input_value() == "stars"
        model = page.get_by_label("Model (hub id or local directory; empty = built-in all-MiniLM-L6-v2)")
        model.fill(str(model_dir))
        model.press("Tab")
        budget = page.get_by_role("slider", name="Time budget (minutes)")
        budget.focus()
        budget.press("Home")  # 1 minute
        page.get_by_text("Time budget (minutes)").click()
        page.get_by_role("button", name="Run probes").click()
        page.get_by_text("Every method was scored on").wait_for(timeout=240_000)
        page.get_by_text("rules + measurements on a proxy model").wait_for(timeout=30_000)  # a tiny model for a 7B one
        assert page.get_by_text("7B-parameter model").count() >= 1  # the situation is still the user's
        assert model.input_value() == str(model_dir)  # the settings survive the run
        assert page.get_by_text("reviews.csv: 200 rows").count() == 1 and page.locator('input[aria-label="Label column"]').input_value() == "stars"
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shots / "app-probes.png"), full_page=True)
        page.get_by_text("Every method was scored on").scroll_into_view_if_needed()
        page.mouse.wheel(0, 500)
        page.wait_for_timeout(800)
        page.screenshot(path=str(shots / "app-probe-panel.png"))

        budget.focus()
        budget.press("ArrowRight")  # 2 minutes: not cached, so it really runs
        page.get_by_text("Time budget (minutes)").click()
        page.get_by_role("button", name="Run probes").click()
        page.get_by_role("button", name="Cancel").click(timeout=60_000)
        page.get_by_text("Probe cancelled").wait_for(timeout=30_000)
        assert model.input_value() == str(model_dir)
        page.screenshot(path=str(shots / "app-cancelled.png"), full_page=True)
        browser.close()
