"""The rendered book in a real browser (headless Chromium through Selenium), every page.

Runs after `jupyter-book build` (``make browser``, part of ``make test``). Checks what a
reader sees on every page of the TOC, in a 1280-px window: math typeset by MathJax (served
locally, so it works offline) without MathJax errors; figures loaded, at least 60 % of the
content column wide, not shrunk below their font sizes, and with their plot filling at least
60 % of the image width (the stamp strip under a figure excluded); no traceback, warning,
stderr stream or absolute filesystem path in any output; exercise solutions folded; Colab
buttons that open notebooks that exist in the repository.

``ALLOWED`` lists exceptions, one justified line each (empty today).
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

import numpy as np
import pytest
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
REQUIRED = os.environ.get("SYNLAB_REQUIRE_BROWSER") == "1"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.browser

#: (page, check) -> why it is allowed. Checks: "mathjax", "figure-extent", "figure-width",
#: "figure-scale", "warning", "path". Keep it empty, or justify each line.
ALLOWED: dict[tuple[str, str], str] = {}

MIN_EXTENT = 0.60  # the plot's non-white extent / the image width
MIN_WIDTH = 0.60  # a displayed image / the content column
# Figures are drawn at 100 dpi with 9-pt tick labels (synlab.plot.use_style): shown at less
# than 0.85 of their natural width, tick labels fall below 8 pt (8/9 * 96/100 = 0.853).
MIN_SCALE = 0.85
_WARNING = re.compile(r"\b\w*Warning\b|Traceback \(most recent call last\)|^\w+Error: ", re.M)
_PATH = re.compile(r"(?<![\w.)\]>:/])(?:~|/[\w.+-]+)/(?:[\w.+-]+/)*[\w.+-]+|\b[A-Z]:\\\w")


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
    return [toc["root"], *(c["file"] for part in toc["parts"] for c in part["chapters"])]


def plot_extent(png: Path) -> float:
    """Horizontal extent of the non-white pixels of a figure / its width, the bottom text strip
    (the provenance stamp: a short block of rows under a white gap) left out."""
    a = np.asarray(Image.open(png).convert("L"), dtype=np.uint8)
    ink = a < 235
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return 0.0
    bottom = rows[-1]
    # walk up over the last block of inked rows; if a white gap of >= 3 rows sits above a
    # short block, that block is the stamp: leave it out
    r = bottom
    while r > 0 and ink[r].any():
        r -= 1
    gap_top = r
    while gap_top > 0 and not ink[gap_top].any():
        gap_top -= 1
    if r - gap_top >= 3 and bottom - r <= max(40, 0.15 * a.shape[0]):
        ink = ink[: gap_top + 1]
    cols = np.flatnonzero(ink.any(axis=0))
    return float((cols[-1] - cols[0] + 1) / a.shape[1]) if cols.size else 0.0


def test_plot_extent_ignores_the_stamp_and_finds_blank_margins(tmp_path):
    img = np.full((200, 1000), 255, np.uint8)
    img[20:150, 100:400] = 0  # the plot: 30 % of the width
    img[170:180, 10:990] = 100  # a long stamp under a white gap
    Image.fromarray(img).save(tmp_path / "f.png")
    assert abs(plot_extent(tmp_path / "f.png") - 0.30) < 0.01
    img[20:150, 100:800] = 0
    Image.fromarray(img).save(tmp_path / "f.png")
    assert plot_extent(tmp_path / "f.png") > 0.69


def test_path_and_warning_patterns():
    for bad in ("data in /usr/share/datasets/x", "~/cache/synlab", "at /root/.cache/a.npz"):
        assert _PATH.search(bad), bad
    for ok in ("tasks 0/1, 2/3, 4/5", "lr 1e-3 / batch", "https://doi.org/10.7554/eLife.69884"):
        assert not _PATH.search(ok), ok
    assert _PATH.search("C:\\Users\\me")
    assert _WARNING.search("x.py:3: FutureWarning: `torch.load`")
    assert not _WARNING.search("no warnings here, all fine")


def _allowed(page: str, check: str) -> bool:
    return (page, check) in ALLOWED


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
    errors = browser.execute_script(
        "return [...document.querySelectorAll('mjx-merror')]"
        ".map(e => e.getAttribute('data-mjx-error') || e.textContent);"
    )
    problems = [] if not errors or _allowed(page, "mathjax") else [f"MathJax errors {errors}"]
    problems += _figure_problems(browser, page) + _output_problems(browser, page)
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)
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


def _figure_problems(browser, page: str) -> list[str]:
    column, images = browser.execute_script(
        "const m = document.querySelector('main article') || document.querySelector('main');"
        "const col = m.getBoundingClientRect().width;"
        "return [col, [...document.querySelectorAll('div.cell_output img')].map(i => "
        "[i.getAttribute('src'), i.naturalWidth, i.getBoundingClientRect().width])];"
    )
    out = []
    for src, natural, shown in images:
        name = src.split("/")[-1][:16]
        if natural and shown < MIN_WIDTH * column and not _allowed(page, "figure-width"):
            out.append(
                f"figure {name} is shown {shown:.0f} px wide, under {MIN_WIDTH:.0%} of the "
                f"{column:.0f}-px column"
            )
        if natural and shown < MIN_SCALE * natural and not _allowed(page, "figure-scale"):
            out.append(
                f"figure {name} ({natural} px) is shrunk to {shown:.0f} px: its tick labels fall "
                "under 8 pt (draw it at column width, synlab.plot.COLUMN_IN)"
            )
        local = (HTML / unquote(page) / ".." / unquote(src)).resolve()
        if local.is_file() and local.suffix == ".png" and not _allowed(page, "figure-extent"):
            extent = plot_extent(local)
            if extent < MIN_EXTENT:
                out.append(
                    f"the plot of figure {name} spans {extent:.0%} of its image width (blank "
                    "margins: a long text line widening the figure?)"
                )
    return out


def _output_problems(browser, page: str) -> list[str]:
    from selenium.webdriver.common.by import By

    out = []
    if not _allowed(page, "warning"):
        for e in browser.find_elements(By.CSS_SELECTOR, "div.cell_output .output.stderr"):
            out.append(f"a cell shows stderr output: {e.get_attribute('textContent')[:200]!r}")
    texts = browser.execute_script(
        "return [...document.querySelectorAll('div.cell_output')].map(e => e.textContent);"
    )
    for text in texts:
        m = _WARNING.search(text)
        if m and not _allowed(page, "warning"):
            out.append(
                f"an output shows a warning or traceback: {text[max(0, m.start() - 80) :][:200]!r}"
            )
        m = _PATH.search(text)
        if m and not _allowed(page, "path"):
            out.append(f"an output shows a filesystem path {m.group(0)!r}")
    return out
