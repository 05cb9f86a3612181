import io
from decimal import Decimal

import pytest

from costroll.ledger import UNALLOCATED, LedgerError, read_csv

EXPORT = """account,service,usage_quantity,unit_price,tag:team
111,AmazonEC2,720,0.0416,Checkout
111,AmazonS3,1500.5,0.023,
222,AWSLambda,"1,250,000",0.0000166667,data
"""


def test_reads_line_items():
    items = read_csv(io.StringIO(EXPORT))
    assert [(i.account, i.service, i.team) for i in items] == [
        ("111", "AmazonEC2", "checkout"),
        ("111", "AmazonS3", UNALLOCATED),
        ("222", "AWSLambda", "data"),
    ]
    assert items[2].usage_quantity == Decimal(1_250_000)


def test_cost_is_exact():
    items = read_csv(io.StringIO(EXPORT))
    assert items[0].cost == Decimal("29.9520")
    assert items[2].cost == Decimal("20.833375")


def test_errors_name_the_line():
    broken = "account,service,usage_quantity,unit_price\n1,EC2,1,0.5\n1,EC2,,0.5\n"
    with pytest.raises(LedgerError, match="line 3: missing usage_quantity"):
        read_csv(io.StringIO(broken))
    with pytest.raises(LedgerError, match="line 2: not an amount"):
        read_csv(io.StringIO("account,service,usage_quantity,unit_price\n1,EC2,ten,0.5\n"))
