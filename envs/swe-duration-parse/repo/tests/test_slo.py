import datetime as dt

import pytest

from slokit import SLO, SLOError, burn_rate_alerts


def test_from_config_with_percentage():
    slo = SLO.from_config({"name": "api", "objective": "99.9%", "window": "30d"})
    assert slo == SLO("api", 0.999, dt.timedelta(days=30))


def test_window_defaults_to_thirty_days():
    assert SLO.from_config({"name": "api", "objective": 0.99}).window == dt.timedelta(days=30)


def test_config_errors_name_the_problem():
    with pytest.raises(SLOError, match="missing 'objective'"):
        SLO.from_config({"name": "api"})
    with pytest.raises(SLOError, match="api: invalid duration '30 days'"):
        SLO.from_config({"name": "api", "objective": 0.99, "window": "30 days"})
    with pytest.raises(SLOError, match="between 0 and 1"):
        SLO.from_config({"name": "api", "objective": "150%"})


def test_error_budget():
    slo = SLO("api", 0.999, dt.timedelta(days=30))
    assert slo.error_budget == pytest.approx(dt.timedelta(minutes=43.2), abs=dt.timedelta(seconds=1))


def test_burn_rate_and_exhaustion():
    slo = SLO("api", 0.99, dt.timedelta(days=30))
    assert slo.burn_rate(0.02) == pytest.approx(2.0)
    assert slo.time_to_exhaustion(0.02) == pytest.approx(dt.timedelta(days=15), abs=dt.timedelta(seconds=1))
    assert slo.time_to_exhaustion(0.0) is None


def test_workbook_alerts_for_thirty_days():
    alerts = burn_rate_alerts(SLO("api", 0.999, dt.timedelta(days=30)))
    assert [a.describe() for a in alerts] == [
        "page: burn rate > 14.4 over 1h and 5m",
        "page: burn rate > 6 over 6h and 30m",
        "ticket: burn rate > 3 over 1d and 2h",
        "ticket: burn rate > 1 over 3d and 6h",
    ]
    assert alerts[0].error_ratio_threshold(SLO("api", 0.999, dt.timedelta(days=30))) == pytest.approx(0.0144)


def test_alert_windows_scale_with_the_slo_window():
    alerts = burn_rate_alerts(SLO("batch", 0.99, dt.timedelta(days=7)))
    assert alerts[0].describe() == "page: burn rate > 14.4 over 14m and 1m10s"
