"""Numbers from results: the table helpers, the prose-decimal lint, and the generated tables.

- The lint: a decimal in a chapter's prose (Markdown cells, outside math, code, links and the
  paper's-value marker ``<span class="paper">…</span>``) fails, except in the chapters listed in
  ``NOT_YET_CONVERTED`` (visible debt; a listed chapter that has no typed decimal left fails too,
  so the list only shrinks).
- The generated tables: every ``show("name", …)`` cell of a chapter notebook must show exactly
  what ``synlab.tables.build`` makes from the committed full results now.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from synlab.chapter_tables import sci
from synlab.tables import TABLES, Table, build, fmt, paper, pm, register, span

ROOT = Path(__file__).resolve().parent.parent

# Chapters whose prose still types numbers derived from our results (to be converted).
NOT_YET_CONVERTED: set[str] = set()


def _chapters() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f for f in files if re.search(r"/\d\d_[^/]+$", f)]


CHAPTERS = _chapters()


def _cells(chapter: str) -> list[dict]:
    return json.loads((ROOT / f"{chapter}.ipynb").read_text())["cells"]


def _text(x) -> str:
    return "".join(x) if isinstance(x, list) else x


# ---------------------------------------------------------------------------------- the lint
_MASKS = [
    (r"```\{exercise\}.*?```", ""),  # an exercise's statement gives its own numbers
    (r"```\{[\w-]+\}[^\n]*\n", ""),  # other directives' fence lines (their content is prose)
    (r"```.*?```", ""),  # code blocks
    (r"\$\$.*?\$\$", ""),  # display math
    (r"\\begin\{(\w+\*?)\}.*?\\end\{\1\}", ""),
    (r"\$[^$\n]+\$", ""),  # inline math
    (r"`[^`\n]+`", ""),  # code spans, roles
    (r"\]\([^)]*\)", "]"),  # link targets
    (r"https?://\S+", ""),
    (r"doi:\s?\S+", ""),
    (r"\bCC[ -]BY(?:-[A-Z]+)*(?: \d\.\d)?", ""),  # a licence's version is not a number
    (r'<span class="paper">.*?</span>', ""),  # the paper's values
]
_DECIMAL = re.compile(r"(?<![\w.])\d*\.\d+")


def prose_decimals(markdown: str) -> list[str]:
    """Decimals in prose outside math, code, links and the paper's-value marker, with context."""
    text = markdown
    for pattern, repl in _MASKS:
        text = re.sub(pattern, repl, text, flags=re.S)
    return [text[max(0, m.start() - 40) : m.end() + 10] for m in _DECIMAL.finditer(text)]


def test_lint_finds_typed_decimals_and_ignores_marked_ones():
    assert prose_decimals("accuracy 84.01 % after") != []
    assert prose_decimals("a ratio of .5 here") != []
    assert prose_decimals('the paper: <span class="paper">82.90</span> %') == []
    assert prose_decimals("math $p = 0.5$ and $$x = 1.5$$ and `f(0.1)`") == []
    assert prose_decimals("[paper](https://doi.org/10.7554/eLife.69884), doi:10.5061/dryad.x") == []
    assert prose_decimals("Eq. 4, Fig. 2 and 1,200 steps.") == []
    assert prose_decimals("shared under CC BY 4.0 and CC BY-SA 3.0") == []
    assert prose_decimals("```{exercise} T\n:label: x\nuse 0.3 here\n```") == []
    assert prose_decimals("```{solution} x\n:class: dropdown\nit gives 0.3\n```") != []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_prose_types_no_result_decimals(chapter):
    found = [
        d
        for c in _cells(chapter)
        if c["cell_type"] == "markdown"
        for d in prose_decimals(_text(c["source"]))
    ]
    if chapter in NOT_YET_CONVERTED:
        assert found, f"{chapter} has no typed decimal left: remove it from NOT_YET_CONVERTED"
        pytest.skip(f"{chapter}: {len(found)} typed decimals not yet converted (NOT_YET_CONVERTED)")
    assert not found, (
        f"{chapter} types decimals in its prose; produce them with synlab.tables.show, or mark "
        f'the paper\'s values with <span class="paper">…</span>: {found}'
    )


def test_not_yet_converted_lists_only_chapters():
    assert NOT_YET_CONVERTED <= set(CHAPTERS)


# ------------------------------------------------------------------------------ the helpers
def test_formatting_helpers():
    assert fmt(-1.234, 1) == "−1.2" and fmt(0.5, 2, sign=True) == "+0.50"
    assert fmt(float("nan")) == "n/a"
    assert pm(84.014, 0.297) == "84.01 ± 0.30" and pm(1.0, float("nan")) == "1.00 (n = 1)"
    assert span([1.04, 2.96], 1) == "1.0–3.0" and span([2.01, 1.99], 1) == "2.0"
    assert paper("0.5") == '<span class="paper">0.5</span>'
    assert sci(1e-6) == "10⁻⁶" and sci(0.0086) == "8.6 × 10⁻³" and sci(36732.9) == "3.7 × 10⁴"
    assert sci(9.96e-3) == "10⁻²"


def test_table_markdown_and_row_check():
    t = Table(["a", "b"], align="lr").add("x|y", 1.5)
    assert t.markdown().splitlines() == ["| a | b |", "|---|--:|", "| x\\|y | 1.5 |"]
    assert t._repr_markdown_() == t.markdown()
    with pytest.raises(ValueError):
        t.add("only one")


def test_build_checks_the_results_it_is_given():
    class R:
        experiment = "some_experiment"
        profile = "full"

    register("test.tables.demo", "some_experiment")(lambda r: Table(["p"], [[r.profile]]))
    try:
        assert build("test.tables.demo", R()).endswith("| full |")
        R.experiment = "other"
        with pytest.raises(ValueError, match="takes results of"):
            build("test.tables.demo", R())
        with pytest.raises(KeyError):
            build("test.tables.nope")
    finally:
        del TABLES["test.tables.demo"]


# ------------------------------------------------------------------- the generated tables
_SHOW = re.compile(r"^show\(\s*\"([\w.]+)\"", re.M)


def _shown() -> list[tuple[str, str, str]]:
    """(chapter, table name, the Markdown the stored notebook shows) for every show() cell."""
    out = []
    for chapter in CHAPTERS:
        for c in _cells(chapter):
            if c["cell_type"] != "code":
                continue
            names = _SHOW.findall(_text(c["source"]))
            if not names:
                continue
            shown = [
                _text(o["data"]["text/markdown"])
                for o in c.get("outputs", [])
                if "text/markdown" in o.get("data", {})
            ]
            assert len(names) == len(shown), (
                f"{chapter}: a cell calls show() {len(names)} times but stores {len(shown)} "
                "Markdown outputs (re-execute the chapter)"
            )
            out += [(chapter, n, s) for n, s in zip(names, shown, strict=True)]
    return out


SHOWN = _shown()


def test_every_registered_table_is_shown_by_a_chapter():
    from synlab import chapter_tables  # noqa: F401  (registers the builders)

    assert {n for _, n, _ in SHOWN} == set(TABLES)


@pytest.mark.parametrize("chapter,name,stored", SHOWN, ids=[f"{c}:{n}" for c, n, _ in SHOWN])
def test_generated_table_matches_the_stored_results(chapter, name, stored):
    from synlab.results import load_results

    results = [load_results(e, "full") for e in TABLES[name].experiments]
    assert build(name, *results) == stored, (
        f"{chapter} shows a table {name} that differs from what the committed results give now: "
        "re-execute the chapter"
    )


def test_generated_tables_show_no_nan():
    for chapter, name, stored in SHOWN:
        assert not re.search(r"\bnan\b", stored, re.I), f"{chapter}:{name} shows NaN"


#: builders whose text holds no result of the profile it is given: a pending run, a method list
_NO_PROFILE_WORDS = {"malkin2024.tradeoff.size_control", "schug2021.consolidation.methods"}


def test_every_builder_names_another_profile(tmp_path, monkeypatch):
    """The committed results relabelled as the quick profile (nothing is computed; an empty cache
    folder, so no other quick run is found): every builder still builds, shows no NaN and says
    that its numbers come from the quick profile (the branches the chapters take in CI)."""
    import table_dump

    monkeypatch.setenv("SYNLAB_CACHE_DIR", str(tmp_path))
    parts = re.split(r"^## ", table_dump.dump("quick"), flags=re.M)[1:]
    assert len(parts) == len(TABLES)
    for part in parts:
        name, body = part.split("\n", 1)
        assert not body.strip().startswith("RAISES"), f"{name}: {body.strip()}"
        assert not re.search(r"\bnan\b", body, re.I), f"{name} shows NaN on the quick profile"
        if name not in _NO_PROFILE_WORDS:
            assert "quick" in body.lower(), f"{name} does not name the quick profile"
