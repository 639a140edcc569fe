"""Document profiles and questions resolved to documents: period and organisation parsing in
English and Chinese, ambiguous questions, and a folder of one company's reports over three
years where each year's question lands in its own year."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.profiles import (
    Organisation,
    Period,
    Profile,
    build_profile,
    document_prior,
    file_name_alias,
    organisation_match,
    question_kinds,
    question_periods,
)
from tests.conftest_docs import make_pdf


# -- periods ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "periods"),
    [
        ("What was FY2022 revenue?", [(2022, None)]),
        ("capital spending in fiscal 2022", [(2022, None)]),
        ("sales in the second quarter of fiscal 2024", [(2024, 2)]),
        ("Contoso's Q2 2023 gross margin", [(2023, 2)]),
        ("the 2021 Q1 segment results", [(2021, 1)]),
        ("Q2 of FY2023 compared to Q2 of FY2022", [(2023, 2), (2022, 2)]),
        ("the FY2018 - FY2020 3 year average", [(2018, None), (2020, None)]),
        ("FY21 operating margin", [(2021, None)]),
        ("revenue in 2021, by quarter: Q3", [(2021, 3)]),
        ("2022年的营业收入是多少？", [(2022, None)]),
        ("2023年第二季度的净利润", [(2023, 2)]),
        ("2023财年第三季度", [(2023, 3)]),
        ("公司第四季度的收入，2022年", [(2022, 4)]),
        ("revenue of $2,022 million", []),  # an amount, not a year
    ],
)
def test_question_periods_in_english_and_chinese(text, periods) -> None:
    found, _ = question_periods(text)
    assert [(p.year, p.quarter) for p in found] == periods


def test_latest_and_kinds_are_read_from_the_question() -> None:
    assert question_periods("In the latest 10-Q, what changed?")[1] is True
    assert question_periods("最新的季度报告")[1] is True
    assert question_periods("FY2020 revenue")[1] is False
    assert question_kinds("Amazon's Q2 2023 10-Q") == {"quarterly report"}
    assert question_kinds("according to the annual report") == {"annual report"}
    assert question_kinds("2022年年度报告中的营收") == {"annual report"}


# -- organisations ---------------------------------------------------------------------
CONTOSO_COVER = """UNITED STATES
ANNUAL REPORT
For the fiscal year ended June 30, 2022
Contoso Ltd. (“Contoso”, NASDAQ: CTSO), formerly Fabrikam Inc., makes bicycles.
Contoso Ltd. designs frames in Oslo. Contoso Ltd. sells them in 40 countries.
"""

ZH_COVER = """北京云杉科技股份有限公司
2023年第二季度报告
北京云杉科技股份有限公司（以下简称“云杉科技”），原名北京云杉软件有限公司，主要从事林业软件的开发。
截至2023年6月30日止，公司营业收入为三亿元。
"""


def test_profile_reads_names_short_forms_tickers_and_former_names_in_english() -> None:
    p = build_profile("reports/contoso-annual.pdf", "UNITED STATES", [CONTOSO_COVER])
    org = p.organisations[0]
    assert org.name == "Contoso Ltd."
    assert {"Contoso", "CTSO", "Fabrikam Inc"} <= set(org.aliases)
    assert [(x.year, x.quarter, x.end) for x in p.periods] == [(2022, None, "2022-06-30")]
    assert p.kind == "annual report"
    assert p.language == "en"
    assert p.line() == "Contoso Ltd. (CTSO) · annual report · FY2022"


def test_profile_reads_names_short_forms_and_former_names_in_chinese() -> None:
    p = build_profile("云杉/季报.pdf", "北京云杉科技股份有限公司", [ZH_COVER])
    org = p.organisations[0]
    assert org.name == "北京云杉科技股份有限公司"
    assert {"云杉科技", "北京云杉软件有限公司"} <= set(org.aliases)
    assert (2023, 2) in [(x.year, x.quarter) for x in p.periods]
    assert p.kind == "quarterly report"
    assert p.language == "zh"


def test_a_year_in_running_chinese_text_is_no_period_of_the_document() -> None:
    """Chinese writes "in 2015" as "2015年": like a year in an English sentence, it does not
    make the text a report for that year; a report year does ("2022年年度报告")."""
    story = "黑豹队在2015年赛季以24次拦截领先联盟，并在2016年的超级碗中败给野马队。"
    assert build_profile("p1.txt", "", [story]).periods == ()
    for cover, year in (
        ("云杉科技2022年年度报告", 2022),
        ("云杉科技2022年度报告", 2022),
        ("云杉科技2023年半年度报告", 2023),
        ("云杉科技2021财年经营情况", 2021),
    ):
        assert [x.year for x in build_profile("r.pdf", "", [cover]).periods] == [year], cover
    # A question's "2015年" still names the year.
    assert [p.year for p in question_periods("2015年黑豹队拦截了多少次？")[0]] == [2015]


def test_profile_reads_a_filing_cover_and_its_metadata() -> None:
    cover = (
        "FORM 10-Q\nQUARTERLY REPORT PURSUANT TO SECTION 13 OR 15(d)\n"
        "For the quarterly period ended April 1, 2023\nCommission File Number: 001-12345\n"
        "Northwind Traders Inc.\n(Exact name of Registrant as specified in its charter)\n"
        "Title of each class Trading symbol(s) Name of each exchange on which registered\n"
        "Common Stock NWTR The Nasdaq Stock Market LLC\n"
    )
    meta = {"Subject": "Form 10-Q filed on 2023-05-05 for the period ending 2023-04-01"}
    p = build_profile("2023 Q2 NWTR.pdf", "0000320193-23-000064", [cover], meta)
    assert p.organisations == (Organisation("Northwind Traders Inc.", ("NWTR",)),)
    assert [(x.year, x.quarter) for x in p.periods][0] == (2023, 2)  # the file name's
    assert "2023-04-01" in {x.end for x in p.periods}
    assert p.kind == "quarterly report"
    assert p.title == "Northwind Traders Inc. quarterly report Q2 2023"
    assert file_name_alias("NORTHWIND_2021_10K.pdf") == "NORTHWIND"
    assert file_name_alias("2023 Q2 NWTR.pdf") == "NWTR"


def test_questions_name_organisations_by_any_of_their_names() -> None:
    contoso = build_profile("contoso.pdf", "", [CONTOSO_COVER])
    zh = build_profile("云杉.pdf", "", [ZH_COVER])
    assert organisation_match("What was Contoso's revenue?", contoso) == 1.0
    assert organisation_match("CTSO gross margin", contoso) == 1.0
    assert organisation_match("Did Fabrikam pay a dividend?", contoso) == 1.0
    assert organisation_match("What did Northwind earn?", contoso) == 0.0
    assert organisation_match("云杉科技的营业收入是多少？", zh) == 1.0
    assert organisation_match("北京云杉软件有限公司的前身", zh) == 1.0
    water = Profile("", (Organisation("American Water Works Company, Inc.", ()),))
    assert organisation_match("American Water Works' capex", water) == 1.0
    # The first words of a longer name count, but not a word another name continues.
    assert 0 < organisation_match("American's dividends", water) < 1.0
    assert organisation_match("American Express's tax rate", water) == 0.0
    dec = Profile("", (Organisation("Digital Equipment Corporation", ()),))
    assert organisation_match("When was Sky Digital launched?", dec) == 0.0
    assert 0 < organisation_match("Digital's networking protocols", dec) < 1.0
    # Spaced or run together, with or without '&', a name is the same name.
    jj = Profile("", (Organisation("Johnson & Johnson", ("JNJ",)),))
    assert organisation_match("JOHNSON JOHNSON sales", jj) == 1.0
    assert organisation_match("Did JnJ grow?", jj) == 1.0
    assert organisation_match("jnj", jj) == 0.0  # a ticker must look like one


def _annual(org: str, ticker: str, year: int) -> Profile:
    return Profile(
        f"{org} annual report {year}",
        (Organisation(org, (ticker,)),),
        (Period(year, None, f"{year}-12-31"),),
        "annual report",
        "en",
    )


FOLDER = {
    f"{t}-{y}.pdf": _annual(o, t, y)
    for o, t in (("Contoso Ltd.", "CTSO"), ("Northwind Traders Inc.", "NWTR"))
    for y in (2020, 2021, 2022)
}


def test_a_question_naming_company_and_year_prefers_that_report() -> None:
    prior = document_prior("What was Contoso's FY2021 operating cash flow?", FOLDER).prior
    assert max(prior, key=prior.get) == "CTSO-2021.pdf"
    assert prior["CTSO-2021.pdf"] > prior["CTSO-2022.pdf"] > prior.get("NWTR-2021.pdf", 0)
    # A range is read from the last year's report, which repeats the earlier years.
    prior = document_prior("Northwind's FY2020 - FY2022 average margin", FOLDER).prior
    assert max(prior, key=prior.get) == "NWTR-2022.pdf"


def test_ambiguous_questions_spread_over_the_candidates() -> None:
    # No company named: every company's report of the year is lifted alike, none dropped.
    prior = document_prior("What was the FY2021 operating cash flow?", FOLDER).prior
    assert prior["CTSO-2021.pdf"] == prior["NWTR-2021.pdf"] == max(prior.values())
    # Two companies compared: both are lifted alike.
    prior = document_prior("Compare Contoso and Northwind revenue in 2022", FOLDER).prior
    both = {"CTSO-2022.pdf", "NWTR-2022.pdf"}
    assert min(prior[f] for f in both) > max(v for f, v in prior.items() if f not in both)
    # A company the folder does not hold filters nothing away.
    res = document_prior("What was Fabrikam's FY2021 revenue?", FOLDER)
    assert res.organisations == []
    assert res.prior["CTSO-2021.pdf"] == res.prior["NWTR-2021.pdf"]
    # Nothing named at all: no prior, the search ranks as before.
    assert document_prior("How are laptops replaced?", FOLDER).prior == {}


def test_profiles_round_trip_through_json() -> None:
    p = build_profile("contoso.pdf", "", [CONTOSO_COVER])
    assert Profile.from_json(json.loads(json.dumps(p.to_json()))) == p


# -- end to end: three years of one company ----------------------------------------------
def _report(year: int, cash: str) -> list[str]:
    """A small annual report whose file name says nothing: the year is on its cover."""
    cover = (
        "ANNUAL REPORT\n"
        f"For the fiscal year ended December 31, {year}\n"
        "Contoso Ltd. (NASDAQ: CTSO)\n"
        "Contoso Ltd. makes bicycles and sells them in forty countries.\n"
    )
    business = (
        "Business overview\n"
        "Contoso designs bicycle frames in Oslo and assembles them in Porto.\n"
        "Our dealers sell city bicycles, cargo bicycles and spare parts.\n"
    )
    cash_page = (
        "Consolidated Statements of Cash Flows\n"
        "(in millions)\n"
        f"Net cash provided by operating activities {cash}\n"
        "Net cash used for investing activities (210)\n"
        "Net cash used for financing activities (95)\n"
    )
    return [cover, business, cash_page]


@pytest.mark.slow
def test_each_years_question_lands_in_its_own_years_report(tmp_path, monkeypatch) -> None:
    from rag.engine import Engine
    from rag.settings import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    cash = {2020: "412", 2021: "538", 2022: "601"}
    for name, year in (("report-a.pdf", 2021), ("report-b.pdf", 2022), ("report-c.pdf", 2020)):
        make_pdf(docs / name, _report(year, cash[year]))
    make_pdf(docs / "handbook.pdf", ["Staff handbook\nBicycles may be parked in the yard.\n"])
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    with Engine(Settings()) as engine:
        engine.index(docs)
        files = {p["periods"][0]["year"]: f for f, p in engine.profiles().items() if p["periods"]}
        assert set(files) == {2020, 2021, 2022}
        for year in (2020, 2021, 2022):
            for q in (
                f"What was Contoso's operating cash flow in FY{year}?",
                f"Contoso {year}年的经营活动现金流是多少？",
            ):
                hits = engine.search(q, 3)
                assert hits[0].file == files[year], (q, [h.file for h in hits])
            assert hits[0].profile["organisations"][0]["name"] == "Contoso Ltd."
        # The cash flow question reaches the page holding the statement.
        hits = engine.search(
            "Using the cash flow statement, what was Contoso's FY2022 "
            "net cash from operating activities?",
            3,
        )
        assert (hits[0].file, hits[0].page) == (files[2022], 3)
        assert hits[0].to_json()["profile"]["kind"] == "annual report"


@pytest.mark.slow
def test_profiles_are_listed_from_the_command_line(tmp_path, monkeypatch, capsys) -> None:
    from rag import cli

    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "r.pdf", _report(2021, "538"))
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QUARRY_CONFIG_DIR", str(tmp_path / "config"))
    assert cli.run(["--docs", str(docs), "--profiles", "--json", "-q"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["r.pdf"]["organisations"][0]["name"] == "Contoso Ltd."
    assert cli.run(["--docs", str(docs), "--search", "Contoso FY2021 cash", "--json", "-q"]) == 0
    hit = json.loads(capsys.readouterr().out)["hits"][0]
    assert hit["profile"]["periods"][0]["year"] == 2021
    assert cli.run(["--docs", str(docs), "--profiles", "-q"]) == 0
    assert "Contoso Ltd. (CTSO) · annual report · FY2021" in capsys.readouterr().out


def test_a_profile_line_is_short_and_falls_back_to_the_title() -> None:
    assert Profile("Travel policy").line() == "Travel policy"
    assert len(_annual("A" * 300, "AAA", 2020).line()) <= 160


def test_profile_of_plain_text_without_organisation(tmp_path: Path) -> None:
    p = build_profile("notes/meeting.txt", "Meeting notes", ["We met on Monday to plan."])
    assert p.organisations == () and p.periods == () and p.kind == ""
    assert p.title == "Meeting notes" and p.language == "en"


@pytest.mark.gui
def test_the_library_shows_what_each_document_is(qtbot) -> None:
    from app.library_panel import LibraryPanel
    from rag.types import FileReport, FileStatus

    panel = LibraryPanel()
    qtbot.addWidget(panel)
    line = "Contoso Ltd. (CTSO) · annual report · FY2021"
    panel.set_files([FileReport("r.pdf", FileStatus.INDEXED, "", 3, line)])
    assert line in panel.item_for("r.pdf").toolTip(0)
