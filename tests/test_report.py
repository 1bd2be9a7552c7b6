"""The Snakemake report of the completed tiny study (issue 15, point 3): every figure and
every table of the study is in it, with its caption, and the workflow's description.

The report is written as a .zip (report/report.html and each output under
report/data/raw/); report.html holds the outputs and their rendered captions as JSON
(`var results = {...}`). The caption of each output is found from its report(...)
declaration in workflow/rules/*.smk and rendered here as Snakemake renders it (Jinja
with the study's config, then reStructuredText): the text must match word for word.
"""

from __future__ import annotations

import html
import json
import re
import zipfile
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest

from conftest import REPO, TINY, snakemake
from regscale import config as study_config

pytestmark = pytest.mark.slow
RULES = REPO / "workflow" / "rules"
# report("<output>", caption="<caption>", ...), either string possibly an f-string whose
# {placeholders} stand for the same value in both (the figures' loop).
REPORT_CALL = re.compile(r'report\(\s*f?"(?P<output>[^"]+)",\s*caption=f?"(?P<caption>[^"]+)"')


def declared_reports() -> list[tuple[re.Pattern, list[str], str, Path]]:
    """(pattern of the output path, its placeholders, caption, rules folder) of every
    report(...) in workflow/rules/*.smk."""
    declared = []
    for rules in sorted(RULES.glob("*.smk")):
        text = rules.read_text()
        calls = list(REPORT_CALL.finditer(text))
        assert len(calls) == text.count("report("), f"{rules.name}: a report(...) this test cannot read"
        for call in calls:
            parts = re.split(r"\{([^}]+)\}", call["output"])
            names = parts[1::2]
            pattern = "".join(
                re.escape(part) if i % 2 == 0 else f"(?P<p{names.index(part)}>[^/]+)" for i, part in enumerate(parts)
            )
            declared.append((re.compile(pattern), names, call["caption"], rules.parent))
    return declared


def caption_file(output: str, declared) -> Path:
    """The caption file that the report(...) declaration of ``output`` names: the one
    that names ``output`` itself, else the one whose placeholders match it."""
    found = {False: [], True: []}  # by: the declaration has placeholders
    for pattern, names, caption, folder in declared:
        match = pattern.fullmatch(output)
        if match:
            value = lambda placeholder: match[f"p{names.index(placeholder[1])}"]  # noqa: E731
            found[bool(names)].append((folder / re.sub(r"\{([^}]+)\}", value, caption)).resolve())
    found = found[False] or found[True]
    assert len(found) == 1, f"{output}: {len(found)} report(...) declarations match it"
    return found[0]


def rendered(caption: Path, config: dict) -> str:
    """The caption's text as the report shows it, whitespace collapsed."""
    return " ".join(jinja2.Template(caption.read_text()).render(snakemake=SimpleNamespace(config=config)).split())


def text_of(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def script_json(page: str, script_id: str, variable: str):
    found = re.search(rf'<script id="{script_id}">\s*var {variable} = (.*?);\s*</script>', page, re.DOTALL)
    assert found, f"report.html has no {variable}"
    return json.loads(found[1])


@pytest.fixture(scope="module")
def report(complete_study, tmp_path_factory):
    """(results, workflow description, the zip) of `snakemake --report report.zip`."""
    code, tiny_study = complete_study
    path = tmp_path_factory.mktemp("report") / "report.zip"
    snakemake(tiny_study, "--report", str(path), code=code)
    archive = zipfile.ZipFile(path)
    page = archive.read("report/report.html").decode()
    yield script_json(page, "results", "results"), script_json(page, "workflow-desc", "workflow_desc"), archive
    archive.close()


def test_every_figure_and_table_is_in_the_report_with_its_caption(tiny_study, report):
    results, _, archive = report
    config = study_config.load(TINY)
    figures = sorted(str(p.relative_to(tiny_study)) for p in (tiny_study / "results/figures").glob("*.png"))
    tables = sorted(str(p.relative_to(tiny_study)) for p in (tiny_study / "results/tables").iterdir())
    assert len(figures) >= 9 and len(tables) >= 8, (figures, tables)  # the atlas, Figs. 1-8; 8 tables
    assert sorted(results) == sorted(figures + tables)
    declared = declared_reports()
    for output, item in results.items():
        caption = caption_file(output, declared)
        assert text_of(item["caption"]) == rendered(caption, config), f"{output}: caption differs from {caption.name}"
        assert "{{" not in item["caption"] and "{%" not in item["caption"], output
        # The output itself is in the report, byte for byte.
        assert archive.read(f"report/{item['data_uri']}") == (tiny_study / output).read_bytes(), output
    # Every caption file is used: none of them describes an output the study lost.
    used = {caption_file(output, declared).name for output in results}
    assert used | {"workflow.rst"} == {p.name for p in (REPO / "workflow/report").glob("*.rst")}


def test_the_report_opens_with_the_workflow_description(report):
    _, description, _ = report
    expected = rendered(REPO / "workflow/report/workflow.rst", study_config.load(TINY))
    assert text_of(description) == expected
