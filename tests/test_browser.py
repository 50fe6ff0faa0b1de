"""The HTML report in a real browser (headless Chromium driven by Selenium), on a desktop and a phone.

Both editions of the demo (conftest ``demo_built``, built once per session), at 1280 and 390 CSS px wide:
the page never scrolls sideways (a wide table or figure scrolls in its own box), every figure
is drawn, the console has no error, a contents link lands below the sticky "SIMULATED DATA"
banner, the figures keep legible text, and axe-core finds no violation of any impact.

axe-core comes from the ``selenium-axe-python`` wheel (its ``axe.min.js``, read from disk: no
network).  Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow,  # conftest: runs in `make test-slow`, not `make test`
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                 reason="needs Debian's chromium and chromium-driver (make system-deps installs them)")]

WIDTHS = {"desktop": 1280, "phone": 390}
HEIGHT = 800
MIN_FIGURE_TEXT_PX = 9.0  # the smallest text of a figure, in CSS px, at any width
# [anchor, heading top, sticky banner bottom, page at its end] after the link to each heading:
# arguments[0] true = only where the page is now (after a real click), false = click every link
LANDINGS = """
const landing = anchor => {
    const banners = [...document.querySelectorAll('.banner')]
        .filter(b => getComputedStyle(b).position === 'sticky').map(b => b.getBoundingClientRect().bottom);
    return [anchor, document.getElementById(anchor).getBoundingClientRect().top, Math.max(0, ...banners),
            Math.ceil(window.scrollY + window.innerHeight) >= document.documentElement.scrollHeight];
};
if (arguments[0]) return [landing(decodeURIComponent(location.hash.slice(1)))];
return [...document.querySelectorAll("nav.toc a[href^='#']")].map(a => {
    window.scrollTo(0, 0); a.click(); return landing(a.getAttribute('href').slice(1));
});"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-extensions", "--no-first-run", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def axe_source() -> str:
    import selenium_axe_python

    return (Path(selenium_axe_python.__file__).parent / "axe-core" / "axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(params=[(edition, device) for edition in ("closed", "open") for device in WIDTHS],
                ids=lambda p: f"{p[0]}-{p[1]}")
def page(request, demo_built, browser):
    """The edition's report.html loaded at the device's width: (driver, the edition's folder)."""
    edition, device = request.param
    out = demo_built
    folder = out if edition == "closed" else out / "open"
    path = folder / "report.html"
    browser.get("about:blank")
    browser.get_log("browser")  # drop what an earlier page logged
    browser.set_window_rect(width=WIDTHS[device], height=HEIGHT)
    browser.get(path.as_uri())
    assert browser.execute_script("return window.innerWidth") == WIDTHS[device]
    return browser, folder


def test_in_a_browser(page, axe_source):
    driver, folder = page
    # no horizontal page overflow: a wide table or figure scrolls in its own box
    overflow = driver.execute_script("""
        const page = document.documentElement.scrollWidth;
        const wide = [...document.querySelectorAll('body *')].filter(e => {
            const r = e.getBoundingClientRect(); return r.width && r.right > window.innerWidth + 0.5
                && !e.closest('.table-scroll, figure');
        }).slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : ''));
        return [page, window.innerWidth, wide];""")
    assert overflow[0] <= overflow[1], f"the page is {overflow[0]} px wide in {overflow[1]} px: {overflow[2]}"

    # every figure is drawn: an SVG or image of non-zero size
    figures = driver.execute_script("""
        return [...document.querySelectorAll('figure')].map(f => {
            const image = f.querySelector(':scope > svg, :scope > img');
            const r = image ? image.getBoundingClientRect() : {width: 0, height: 0};
            return [f.id, r.width, r.height];
        });""")
    assert figures, "no figure"
    assert all(w > 0 and h > 0 for _, w, h in figures), figures
    assert len(figures) == len(list((folder / "figures").glob("*.svg")))

    # legible figures: the CONSORT diagram's text (SVG <text>) and the matplotlib figures' (glyph
    # paths: drawn at the scale of the SVG to its point size, the smallest label being 7.5 pt)
    sizes = driver.execute_script("""
        const out = {};
        for (const f of document.querySelectorAll('figure')) {
            const svg = f.querySelector(':scope > svg');
            const texts = svg.querySelectorAll('text');
            if (texts.length) {
                out[f.id] = Math.min(...[...texts].map(t => {
                    const m = t.getScreenCTM(); return parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b);
                }));
            } else {
                const points = svg.viewBox.baseVal.width;  // matplotlib: the viewBox in pt (1 pt = 4/3 px)
                out[f.id] = 7.5 * svg.getBoundingClientRect().width / points;
            }
        }
        return out;""")
    assert all(px >= MIN_FIGURE_TEXT_PX for px in sizes.values()), sizes

    # a figure is a figure, named by its text alternative, and its caption is read: no role on
    # the <figure> (role="img" hid the caption from assistive technology), none hides the caption
    hidden = driver.execute_script("""
        return [...document.querySelectorAll('figure')].filter(f => f.hasAttribute('role')
            || !f.getAttribute('aria-label') || !f.querySelector(':scope > figcaption')
            || f.querySelector(':scope > figcaption').closest('[aria-hidden="true"], [role]')).map(f => f.id);""")
    assert not hidden, hidden

    # every date (<span class="date">, the title block's <td class="date">) is on one line
    broken = driver.execute_script("""
        return [...document.querySelectorAll('.date')].filter(e => {
            const range = document.createRange(); range.selectNodeContents(e);
            return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
        }).map(e => e.textContent);""")
    assert driver.execute_script("return document.querySelectorAll('main .date').length") > 0
    assert not broken, broken

    # nothing went wrong in the page
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe

    # a contents link lands below the sticky banner, and at the top of the view (unless the page
    # has reached its end): one link clicked as a person would, then every link of the contents
    links = driver.find_elements("css selector", "nav.toc a[href^='#']")
    assert len(links) >= 5
    driver.execute_script("window.scrollTo(0, 0)")
    links[len(links) // 2].click()
    landings = driver.execute_script(LANDINGS, True) + driver.execute_script(LANDINGS, False)
    for anchor, top, banner, at_end in landings:
        assert banner > 0, "the simulated build has a sticky banner"
        assert top >= banner, f"#{anchor} at {top:.0f} px, under the banner (bottom {banner:.0f} px)"
        assert top <= banner + 80 or at_end, f"#{anchor} at {top:.0f} px: the link did not scroll to it"

    # axe-core: no violation of any impact
    driver.execute_script(axe_source)
    results = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify("
        "{violations: r.violations, incomplete: r.incomplete})), e => done(String(e)));")
    assert results.startswith("{"), f"axe-core failed: {results}"
    results = json.loads(results)
    violations = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in results["violations"]]
    assert not violations, "\n".join(violations)
    # what axe cannot decide is only the contrast of SVG text (black on the CONSORT diagram's
    # light fills): any other element is decided, and passes
    undecided = [(v["id"], n["html"][:60]) for v in results["incomplete"] for n in v["nodes"]
                 if not (v["id"] == "color-contrast" and n["html"].startswith("<text"))]
    assert not undecided, undecided
