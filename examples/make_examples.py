"""Write the sample folder examples/northwind: documents of a fictional company.

The PDF and DOCX are generated (reportlab, python-docx) so they can be rebuilt
and reviewed as text here; the Markdown, HTML and Chinese files are written as
they are. Run: ``python examples/make_examples.py``.
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent / "northwind"

TRAVEL_POLICY = [
    (
        "Northwind Traders Travel and Expense Policy",
        [
            "Policy number FIN-07, version 4. Effective 1 March 2024; replaces the version of "
            "15 January 2022. Owner: Finance Department (Helga Brandt, Controller).",
            "This policy applies to all employees and contractors of Northwind Traders who travel "
            "on company business. It explains what may be booked, what is reimbursed and who "
            "approves it.",
        ],
    ),
    (
        "1. Booking travel",
        [
            "All flights, trains and hotels are booked through the company travel portal, "
            "TravelDesk, at least 14 days before departure. Bookings made later than 7 days "
            "before departure need a written reason.",
            "Economy class is the standard for all flights. Business class is allowed only for "
            "flights with a scheduled flying time of more than 8 hours, and must be approved by a "
            "Vice President in advance.",
            "Rail is preferred to air for journeys under 4 hours. Employees may use a private car "
            "when it is cheaper than rail; mileage is reimbursed at EUR 0.30 per kilometre.",
        ],
    ),
    (
        "2. Hotels",
        [
            "The nightly hotel limit, including taxes, is EUR 160 in most cities and EUR 220 in "
            "London, Paris, New York, Tokyo and Shanghai. Stays above the limit need approval by "
            "the employee's manager before booking.",
            "Employees who stay with friends or family instead of a hotel may claim a flat "
            "EUR 35 per night.",
        ],
    ),
    (
        "3. Per diem and meals",
        [
            "A daily allowance (per diem) covers meals and small expenses. The per diem is "
            "EUR 55 per day for domestic travel and EUR 75 per day for international travel. "
            "On the day of departure and the day of return, 80 percent of the per diem is paid.",
            "When a meal is provided by the company, a client or a conference, the per diem is "
            "reduced by 20 percent for breakfast and 30 percent each for lunch and dinner.",
            "Alcohol is not reimbursed, except at client dinners approved by a director.",
        ],
    ),
    (
        "4. Approval limits",
        [
            "Every trip needs approval before booking. Trips with an estimated cost up to "
            "EUR 2,500 are approved by the employee's manager. Trips from EUR 2,500 to "
            "EUR 10,000 need a director's approval. Trips above EUR 10,000 are approved by the "
            "Chief Financial Officer, Marcus Lindqvist.",
            "Client entertainment is limited to EUR 90 per person per event, and the names of "
            "all guests must be listed on the expense claim.",
        ],
    ),
    (
        "5. Expense claims",
        [
            "Expense claims are submitted in the ExpensePoint system within 30 days of the end "
            "of the trip, with an itemised receipt for every expense over EUR 25. Claims "
            "submitted after 90 days are not reimbursed.",
            "Approved claims are paid with the next monthly salary, on the 25th day of each "
            "month. Claims approved after the 15th are paid the following month.",
            "Corporate cards are issued to employees who travel more than 6 times a year. "
            "Card statements must be reconciled in ExpensePoint by the 10th of the following "
            "month.",
        ],
    ),
    (
        "6. Travel safety and insurance",
        [
            "All business travellers are covered by the company travel insurance with "
            "AllSafe Assurance, policy number AS-4471-NW. The 24-hour assistance line is "
            "+49 40 5550 1234.",
            "Travel to countries with a government travel warning needs the approval of the "
            "Head of Security, Priya Raman, at least 10 working days before departure.",
            "Questions about this policy go to travel@northwind.example or to the Finance "
            "helpdesk, extension 4410.",
        ],
    ),
]


def make_policy_pdf(path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    story = []
    for i, (heading, paragraphs) in enumerate(TRAVEL_POLICY):
        story.append(Paragraph(heading, styles["Title" if i == 0 else "Heading2"]))
        for text in paragraphs:
            story.append(Paragraph(text, styles["BodyText"]))
            story.append(Spacer(1, 6))
        if i in (1, 3, 5):  # spread the sections over four pages, as a longer policy would be
            story.append(PageBreak())
    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        title="Northwind Traders Travel and Expense Policy",
        author="Northwind Traders Finance",
        invariant=True,
    )

    def footer(canvas, doc) -> None:
        canvas.setFont("Helvetica", 8)
        canvas.drawString(72, 30, f"FIN-07 Travel and Expense Policy - page {doc.page}")

    doc.build(story, onFirstPage=footer, onLaterPages=footer)


def make_it_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Northwind Traders IT Equipment and Holidays 2024"
    document.core_properties.author = "Northwind Traders IT"
    document.add_heading("IT Equipment and Holidays 2024", 0)
    document.add_paragraph(
        "This guide lists the standard IT equipment issued to Northwind Traders staff and the "
        "office holidays for 2024. Equipment is ordered through the IT service desk "
        "(servicedesk@northwind.example, extension 4000)."
    )
    document.add_heading("Standard equipment by role", 1)
    rows = [
        ("Role", "Laptop", "Monitor", "Phone", "Replacement cycle"),
        ("Sales", "Lenovo ThinkPad T14 Gen 4", "one 24-inch", "iPhone 15", "3 years"),
        ("Engineering", "Dell Precision 5680, 64 GB RAM", "two 27-inch 4K", "none", "3 years"),
        ("Warehouse", "Panasonic Toughbook 40", "none", "Zebra TC58 scanner", "4 years"),
        ("Office", "Lenovo ThinkPad T14 Gen 4", "one 27-inch", "none", "4 years"),
    ]
    table = document.add_table(rows=0, cols=len(rows[0]))
    table.style = "Table Grid"
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value
    document.add_paragraph(
        "Lost or stolen equipment must be reported to the service desk within 24 hours. "
        "Personal software may not be installed; requests for extra software are approved by "
        "the IT Security team within 3 working days."
    )
    document.add_heading("Office holidays 2024", 1)
    holidays = [
        ("Date", "Holiday", "Offices closed"),
        ("1 January", "New Year's Day", "all"),
        ("29 March", "Good Friday", "Hamburg, London"),
        ("1 April", "Easter Monday", "Hamburg, London"),
        ("1 May", "Labour Day", "Hamburg, Shanghai"),
        ("3 October", "German Unity Day", "Hamburg"),
        ("24 December", "Christmas Eve (half day)", "all"),
        ("25 December", "Christmas Day", "all"),
    ]
    table = document.add_table(rows=0, cols=3)
    table.style = "Table Grid"
    for row in holidays:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value
    document.add_paragraph(
        "The Shanghai office also closes for Spring Festival from 10 to 17 February 2024 and "
        "for National Day from 1 to 7 October 2024."
    )
    document.save(str(path))


ONBOARDING_MD = """\
# Northwind Traders Onboarding Handbook

Welcome to Northwind Traders! Northwind is a wholesale distributor of specialty foods,
founded in Hamburg in 1998, with offices in Hamburg, London and Shanghai and about
420 employees.

## Your first week

On your first day, report to reception at 9:00. Your manager will meet you and give
you your badge, your laptop and a copy of this handbook. Your buddy, a colleague from
another team, will have lunch with you on your first Friday.

- Day 1: IT setup, security training (90 minutes) and a tour of the office.
- Day 2: meet the people of your team, one by one.
- Day 3 to 5: shadow a colleague and start your first small task.

## Working hours

Core hours are 10:00 to 15:00, Monday to Friday. Outside core hours you may choose
when you work, as long as you work 40 hours a week. Staff may work from home up to
two days a week after their probation period of 6 months.

## Holidays and sick leave

Full-time employees have 30 days of paid holiday per year, plus the public holidays
of their office. Up to 5 unused days may be carried over to the next year, and must be
taken by 31 March. Sick leave of more than 3 days needs a doctor's note.

## Benefits

Northwind pays 50 percent of a public transport pass, and EUR 600 per year towards
training courses and books. The company pension plan matches employee contributions
up to 4 percent of salary.

## Who to ask

| Topic | Contact |
| --- | --- |
| IT problems | servicedesk@northwind.example, extension 4000 |
| Salary and contracts | hr@northwind.example, extension 4200 |
| Travel and expenses | travel@northwind.example, extension 4410 |
"""

FAQ_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Northwind Traders - Product FAQ</title>
  <style>body { font-family: sans-serif; } .promo { color: red; }</style>
  <script>
    // Analytics snippet: must never be indexed.
    window.trackingId = "NW-TRACK-99812";
    function track(event) { console.log("tracked", event); }
  </script>
</head>
<body>
  <nav><a href="/">Home</a> | <a href="/products">Products</a></nav>
  <h1>Product FAQ</h1>
  <p>Answers to the questions our customers ask most about Northwind products,
     ordering and delivery.</p>

  <h2>Ordering</h2>
  <h3>What is the minimum order?</h3>
  <p>The minimum order for trade customers is <b>EUR 250</b> before tax. Orders placed
     before 14:00 on a working day leave our Hamburg warehouse the same day.</p>
  <h3>Which payment terms do you offer?</h3>
  <p>Trade customers pay within 30 days of the invoice date. A 2 percent discount
     applies when an invoice is paid within 10 days.</p>

  <h2>Delivery</h2>
  <h3>How much does shipping cost?</h3>
  <p>Shipping within Germany costs EUR 9.90 per order and is free for orders above
     EUR 500. Shipping to other EU countries costs EUR 19.90.</p>
  <h3>Can I return products?</h3>
  <p>Unopened products can be returned within 14 days of delivery. Chilled and
     frozen goods cannot be returned.</p>

  <h2>Products</h2>
  <table>
    <tr><th>Product</th><th>Origin</th><th>Shelf life</th></tr>
    <tr><td>Chai tea (10 boxes x 20 bags)</td><td>India</td><td>24 months</td></tr>
    <tr><td>Aniseed syrup (12 x 550 ml)</td><td>United Kingdom</td><td>18 months</td></tr>
    <tr><td>Gorgonzola Telino (12 x 100 g)</td><td>Italy</td><td>3 months, chilled</td></tr>
  </table>
  <noscript>Please enable JavaScript for the live stock counter.</noscript>
  <script>track("faq-view");</script>
</body>
</html>
"""

HANDBOOK_ZH = """\
# 北风贸易（上海）员工报销制度

本制度适用于北风贸易上海办公室的全体员工，自2024年1月1日起施行。

## 一、差旅住宿标准

员工出差住宿标准为每晚不超过人民币600元；北京、深圳、香港出差每晚不超过人民币800元。超出标准的部分需由部门经理事先书面批准。

## 二、出差补贴

国内出差每天补贴人民币150元，境外出差每天补贴人民币400元。出发和返回当天按补贴的一半计算。

## 三、交通

出差优先乘坐高铁二等座；单程超过六小时的，可乘坐飞机经济舱。市内交通可实报实销，出租车费用每天不超过人民币200元。

## 四、报销流程

员工应在出差结束后十五个工作日内，通过ExpensePoint系统提交报销申请，并上传发票照片。单笔金额超过人民币1000元的报销，需由财务经理王丽审批。报销款于每月25日随工资发放。

## 五、联系方式

如有疑问，请联系上海财务部：电话021-5555-8800，邮箱 finance.sh@northwind.example。
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    make_policy_pdf(OUT / "travel-expense-policy.pdf")
    make_it_docx(OUT / "it-equipment-and-holidays-2024.docx")
    (OUT / "onboarding-handbook.md").write_text(ONBOARDING_MD, encoding="utf-8")
    (OUT / "product-faq.html").write_text(FAQ_HTML, encoding="utf-8")
    (OUT / "报销制度.md").write_text(HANDBOOK_ZH, encoding="utf-8")
    for path in sorted(OUT.iterdir()):
        print(f"{path.stat().st_size:>8,}  {path.name}")


if __name__ == "__main__":
    main()
