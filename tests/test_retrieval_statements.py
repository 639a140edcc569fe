"""Financial-statement pages: named in a question one way and on the page another, tagged at
indexing, and reached by questions that name the statement (rag.statements)."""

from __future__ import annotations

import pytest

from rag import statements
from rag.chunking import Chunker, with_page_headings
from rag.types import Page
from tests.conftest_docs import make_pdf


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("Using the cash flow statement, what was FY2022 capex?", {"cash flow statement"}),
        ("According to the statement of cash flows, ...", {"cash flow statement"}),
        ("from the statement of financial position", {"balance sheet"}),
        ("Basing your judgment on the balance sheet and the P&L statement", None),
        ("what does the income statement say about margins?", {"income statement"}),
        ("the consolidated statements of operations", {"income statement"}),
        ("the statement of comprehensive income", {"comprehensive income statement"}),
        ("根据现金流量表和资产负债表", {"cash flow statement", "balance sheet"}),
        ("How many employees work in Oslo?", set()),
        ("What is the balance of the revolving loan?", set()),
    ],
)
def test_questions_name_statements_in_generic_words(question, kinds) -> None:
    if kinds is None:
        kinds = {"balance sheet", "income statement"}
    assert statements.question_kinds(question) == kinds


def _statement_page(heading: str, rows: int = 12) -> str:
    lines = [f"Contoso Ltd.\n{heading}\n(in millions)\n2023 2022 2021"]
    for i in range(rows):
        lines.append(f"Line item number {i} {1200 + i * 7:,} {1100 + i * 5:,} {990 + i:,}")
    return "\n".join(lines) + "\n"


def test_a_statement_page_is_known_by_its_heading_and_its_numbers() -> None:
    assert statements.page_kind(_statement_page("Consolidated Statements of Earnings")) == (
        "income statement"
    )
    assert statements.page_kind(_statement_page("CONSOLIDATEDBALANCESHEETS")) == "balance sheet"
    index = (
        "Index to Consolidated Financial Statements\n"
        "Consolidated Statements of Earnings 61\nConsolidated Balance Sheets 63\n"
        "Consolidated Statements of Cash Flows 64\n" + "Notes 66 67 68 69 70 71 72 73 74 75\n" * 2
    )
    assert statements.page_kind(index) == ""  # names several statements: an index
    prose = (
        "Consolidated Statements of Cash Flows\nCash provided by operating activities rose "
        "because customers paid sooner and inventories fell, while we spent more on new "
        "plants in 2023 and repaid part of the term loan ahead of schedule this year.\n"
    )
    assert statements.page_kind(prose) == ""  # words, not a table of numbers


def test_statement_pages_carry_the_plain_name_in_every_chunk(embedder) -> None:
    pages = [
        Page("Management discussion\nOperating income rose because prices rose.\n", 1),
        Page(_statement_page("Consolidated Statements of Earnings", rows=40), 2),
    ]
    chunker = Chunker(embedder.count_tokens, 60, 10)
    chunks = [c for c in chunker.chunk("a.pdf", "Contoso", with_page_headings(pages))]
    on_statement = [c for c in chunks if c.page == 2]
    assert len(on_statement) > 2
    # The first chunk, which holds the heading, takes it rather than the page before's.
    for c in on_statement:
        assert statements.heading_kind(c.heading) == "income statement", c.heading
        assert "Consolidated Statements of Earnings" in c.heading
    assert all(statements.heading_kind(c.heading) == "" for c in chunks if c.page == 1)


def _filing(year: int) -> list[str]:
    """A small annual report: discussion pages that talk about the statements' figures in
    words, an index of the statements, and the statements themselves (numbers)."""
    cover = (
        "ANNUAL REPORT\n"
        f"For the fiscal year ended December 31, {year}\n"
        "Contoso Ltd. (NASDAQ: CTSO)\nContoso Ltd. makes bicycles.\n"
    )
    discussion = (
        "Results of operations\n"
        f"Operating income in {year} rose on higher prices for cargo bicycles.\n"
        "Net sales grew in every region; operating income grew faster than net sales.\n"
        "Cash provided by operating activities rose and we paid higher dividends.\n"
        "Total current assets and total current liabilities both grew during the year.\n"
    )
    index = (
        "Index to Financial Statements\n"
        "Consolidated Statements of Earnings 5\nConsolidated Balance Sheets 6\n"
        "Consolidated Statements of Cash Flows 7\n"
    )
    items = (
        "Net sales",
        "Cost of sales",
        "Gross profit",
        "Selling expenses",
        "Research costs",
        "Operating income",
        "Interest expense",
        "Earnings before taxes",
        "Income taxes",
        "Net earnings",
    )
    earnings = "Contoso Ltd.\nConsolidated Statements of Earnings\n(in millions)\n"
    earnings += f"{year} {year - 1} {year - 2}\n"
    earnings += "".join(
        f"{name} {1000 + i * 37:,} {950 + i * 31:,} {900 + i:,}\n" for i, name in enumerate(items)
    )
    balance = "Contoso Ltd.\nConsolidated Balance Sheets\n(in millions)\n"
    balance += "".join(f"Asset line {i} {500 + i * 11:,} {480 + i * 9:,}\n" for i in range(14))
    cash = "Contoso Ltd.\nConsolidated Statements of Cash Flows\n(in millions)\n"
    cash += "".join(
        f"Cash line {i} {300 + i * 13:,} {280 + i * 7:,} {260 + i:,}\n" for i in range(14)
    )
    return [
        cover,
        discussion,
        discussion.replace("rose", "increased"),
        index,
        earnings,
        balance,
        cash,
    ]


@pytest.mark.slow
def test_a_question_naming_a_statement_reaches_its_page(tmp_path, monkeypatch) -> None:
    from rag.engine import Engine
    from rag.settings import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "contoso-2023.pdf", _filing(2023))
    make_pdf(docs / "contoso-2022.pdf", _filing(2022))
    monkeypatch.setenv("QUARRY_DATA_DIR", str(tmp_path / "data"))
    with Engine(Settings()) as engine:
        engine.index(docs)
        cases = (
            ("Using the income statement, what was Contoso's FY2023 operating income?", 5),
            (
                "From the statement of financial position, what were Contoso's FY2023 total "
                "current assets?",
                6,
            ),
            ("According to the cash flow statement, what were Contoso's FY2023 dividends?", 7),
        )
        for question, page in cases:
            hits = engine.search(question, 3)
            assert (hits[0].file, hits[0].page) == ("contoso-2023.pdf", page), (
                question,
                [(h.file, h.page) for h in hits],
            )
            assert statements.heading_kind(hits[0].heading)
        # Without a statement named, the discussion still answers a question in words.
        hits = engine.search("Why did Contoso's operating income rise in 2023?", 3)
        assert hits[0].page in (2, 3)
