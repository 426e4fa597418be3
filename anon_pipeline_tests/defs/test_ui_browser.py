"""The Dagster UI as a person sees it: a real headless Chromium (Debian's package, driven by Playwright) starts a
run of a policy whose input breaks a rule, opens the failing ``raw_schema`` check and reads the broken rule and
its hint on the page, without opening any JSON.

Skips, with the reason, where Chromium or Playwright is not installed (``.ci/run`` installs Chromium, so CI
always runs it).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from anon_pipeline_tests.pipeline.policies import BUNDLED

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STARTUP_SECONDS = 180
RUN_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"the Dagster UI did not answer at {url} in time")


@pytest.fixture
def dagster_ui(tmp_path):
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium); .ci/run installs it")
    pytest.importorskip("playwright.sync_api", reason="needs the playwright package (the test extra)")
    from anon_pipeline.sample import generate

    source = tmp_path / "export.csv"
    frame = generate("insurance_customers", 200, 3)
    # What a spreadsheet does to long numbers: scientific notation, which the phone pattern refuses.
    frame.loc[:5, "phone_number"] = "4.47E+11"
    frame.to_csv(source, index=False)
    policy = yaml.safe_load(BUNDLED.read_text())
    policy.update(name="ui_check", source={"path": str(source)})
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "ui_check.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "ANON_PIPELINE_POLICIES": str(tmp_path / "policies"),
           "ANON_PIPELINE_WORKDIR": str(tmp_path / "out")}
    log = (tmp_path / "dagster_dev.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "dagster", "dev", "-m", "anon_pipeline.definitions",
                             "-h", "127.0.0.1", "-p", str(port)], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(f"http://127.0.0.1:{port}/server_info", time.monotonic() + STARTUP_SECONDS)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _dismiss_dialogs(page) -> None:
    """Dagster's first-visit dialogs, which may open a moment after the page loads (on a busy machine, after the
    first look): skipped, and their backdrop gone before anything else is clicked."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    skip = page.get_by_role("button", name="Skip")
    try:
        skip.first.wait_for(state="visible", timeout=5_000)
        skip.first.click()
    except PlaywrightTimeout:
        pass  # no dialog this time
    page.locator(".bp5-overlay-backdrop").first.wait_for(state="detached", timeout=15_000)


def test_failing_raw_schema_check_shows_rule_and_hint_on_the_page(dagster_ui, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{dagster_ui}/locations/anon_pipeline.definitions/jobs/ui_check_job",
                      wait_until="networkidle")
            _dismiss_dialogs(page)
            page.get_by_role("button", name="Materialize all").click()
            page.get_by_text("Launched run").wait_for(timeout=60_000)

            deadline = time.monotonic() + RUN_SECONDS
            text = ""
            while time.monotonic() < deadline:
                page.goto(f"{dagster_ui}/assets/ui_check/raw?view=checks", wait_until="networkidle")
                _dismiss_dialogs(page)
                page.wait_for_timeout(1000)
                text = page.inner_text("body")
                if "Failed" in text and "phone_number" in text:
                    break
                time.sleep(2)
            page.screenshot(path=str(tmp_path / "raw_schema_check.png"))
        finally:
            browser.close()
    assert "Failed" in text, "the raw_schema check did not fail on the page"
    assert "phone_number" in text and "pattern" in text, "the broken rule is not on the check page"
    assert "6 row(s)" in text and "hint" in text.lower(), "the row count or the hint is not on the check page"
    assert "4.47E+11" not in text, "a data value reached the UI"
