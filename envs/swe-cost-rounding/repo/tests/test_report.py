from decimal import Decimal

from costroll.ledger import LineItem
from costroll.report import build_report, grand_total, service_breakdown, team_totals


def item(team, service, quantity, price):
    return LineItem("111", service, team, Decimal(quantity), Decimal(price))


ITEMS = [
    item("checkout", "AmazonEC2", "720", "0.0416"),
    item("checkout", "AmazonRDS", "720", "0.171"),
    item("search", "AmazonEC2", "1440", "0.0832"),
    item("search", "AmazonS3", "100", "0.023"),
]


def test_team_totals_largest_first():
    totals = team_totals(ITEMS)
    assert list(totals) == ["checkout", "search"]
    assert totals == {"checkout": Decimal("153.07"), "search": Decimal("122.11")}


def test_team_totals_ties_sorted_by_name():
    items = [item("b", "S3", "1", "5"), item("a", "S3", "1", "5")]
    assert list(team_totals(items)) == ["a", "b"]


def test_grand_total_matches_invoice_for_tiny_lines():
    lambda_lines = [item("data", "AWSLambda", "1", "0.0000166667") for _ in range(3000)]
    assert grand_total(lambda_lines) == Decimal("0.05")


def test_service_breakdown_for_one_team():
    assert service_breakdown(ITEMS, "search") == {"AmazonEC2": Decimal("119.81"), "AmazonS3": Decimal("2.30")}
    assert service_breakdown(ITEMS, "nobody") == {}


def test_report_renders_teams_and_total():
    report = build_report(ITEMS, "2024-05")
    assert report.total == Decimal("275.18")
    assert report.render().splitlines() == [
        "Cloud costs for 2024-05",
        "  checkout         $153.07",
        "  search           $122.11",
        "  total            $275.18",
    ]
