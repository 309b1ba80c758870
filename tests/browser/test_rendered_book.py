"""The rendered book in a real browser (headless Chromium through Selenium).

Runs after `jupyter-book build` (``make browser``, part of ``make test``). Checks what a
reader sees: math typeset by MathJax (served locally, so it works offline), figures loaded,
exercise solutions folded, no error output in cells, Colab buttons that open notebooks that
exist in the repository.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
REQUIRED = os.environ.get("SYNLAB_REQUIRE_BROWSER") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.browser


def _missing() -> str | None:
    if not (HTML / "index.html").is_file():
        return "the book is not built (run `make book`)"
    if not (Path(CHROMIUM).is_file() and Path(DRIVER).is_file()):
        return "Chromium / chromedriver are not installed (Debian: apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    return None


@pytest.fixture(scope="module")
def browser():
    why = _missing()
    if why:
        if REQUIRED:
            pytest.fail(why)
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,2000",
    ):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.base = f"http://127.0.0.1:{server.server_address[1]}/"
    yield driver
    driver.quit()
    server.shutdown()


def _pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"], "book/notation"]
    for part in toc["parts"]:
        chapters = [c["file"] for c in part["chapters"] if re.search(r"/\d\d_", c["file"])]
        if chapters:
            pages.append(chapters[0])
    return pages


def _wait_for_mathjax(driver) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "return window.MathJax === undefined || (MathJax.startup && MathJax.startup.promise "
            "&& (MathJax.startup.promise.then(() => { window.__mj_done = true; }), window.__mj_done === true));"
        )
    )


@pytest.mark.parametrize("page", _pages())
def test_page_renders(browser, page):
    from selenium.webdriver.common.by import By

    browser.get(browser.base + page + ".html")
    assert "synlab" in browser.title.lower() or browser.find_elements(By.TAG_NAME, "h1")
    _wait_for_mathjax(browser)
    # the reader's prose: the page without code cells, code blocks and outputs
    prose = browser.execute_script(
        "const m = document.querySelector('main') || document.body; const c = m.cloneNode(true);"
        "c.querySelectorAll('pre, .cell_input, .cell_output, .highlight, script, mjx-container')"
        ".forEach(e => e.remove()); return c.textContent;"
    )
    is_chapter = bool(re.search(r"/\d\d_", page))
    has_math = bool(browser.find_elements(By.CSS_SELECTOR, "div.math, span.math"))
    if has_math:
        typeset = browser.find_elements(By.CSS_SELECTOR, "mjx-container")
        assert typeset, f"{page}: math was not typeset by MathJax"
        for raw in ("\\frac", "$$", "\\(", "\\["):
            assert raw not in prose, f"{page}: raw TeX ({raw}) is visible in the text"
    if is_chapter:
        assert has_math, f"{page}: a chapter should show its derivations"
        images = browser.find_elements(By.CSS_SELECTOR, "div.cell_output img")
        assert images, f"{page}: no figures in the cell outputs"
        for img in images:
            assert browser.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", img
            ), f"{page}: a figure did not load ({img.get_attribute('src')[:80]})"
        solutions = browser.find_elements(By.CSS_SELECTOR, ".solution.dropdown")
        assert len(solutions) >= 2, f"{page}: expected folded solutions"
        for sol in solutions:
            content = sol.find_elements(By.CSS_SELECTOR, ".admonition-title ~ *")
            assert content and not any(c.is_displayed() for c in content), (
                f"{page}: a solution is not collapsed"
            )
        for out in browser.find_elements(By.CSS_SELECTOR, "div.cell_output"):
            text = out.text
            assert (
                "Traceback (most recent call last)" not in text
                and "Error:" not in text.split("\n")[0]
            ), f"{page}: a cell shows an error"
        links = [
            a.get_attribute("href")
            for a in browser.find_elements(By.CSS_SELECTOR, "a[href*='colab.research.google.com']")
        ]
        assert links, f"{page}: no Colab launch button"
        for href in links:
            m = re.search(r"/blob/[^/]+/(.+\.ipynb)$", unquote(href))
            assert m and (ROOT / m.group(1)).is_file(), (
                f"{page}: the Colab button opens {href}, not a notebook of this repository"
            )
