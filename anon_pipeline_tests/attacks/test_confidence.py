"""Wilson rates, residual risk and its interval against numbers computed by hand (and anonymeter's own tests)."""

from math import sqrt

import pytest

from anon_pipeline.attacks.confidence import AttackResult, Rate, bind, residual_success, success_rate

Z = 1.959963984540054  # probit(0.975)


def test_wilson_rate_by_hand():
    # n = 100, 23 successes: (23 + z^2/2) / (100 + z^2) and z / (100 + z^2) * sqrt(23 * 77 / 100 + z^2 / 4)
    rate = success_rate(100, 23, 0.95)
    assert rate.value == pytest.approx((23 + Z * Z / 2) / (100 + Z * Z), abs=1e-12)
    assert rate.value == pytest.approx(0.23998824451588613, abs=1e-12)      # anonymeter's test value
    assert rate.error == pytest.approx(0.08155558571285167, abs=1e-12)
    assert success_rate(1000, 850).value == pytest.approx(0.849, abs=5e-4)
    assert success_rate(1000, 0).error == pytest.approx(0.002, abs=5e-4)
    with pytest.raises(ValueError):
        success_rate(0, 0)


def test_residual_and_propagated_error_by_hand():
    r = residual_success(Rate(0.9, 0.02), Rate(0.85, 0.02))
    assert r.value == pytest.approx(0.05 / 0.15)
    # d/d(attack) = 1 / 0.15, d/d(control) = (0.9 - 1) / 0.15^2
    assert r.error == pytest.approx(sqrt((0.02 / 0.15) ** 2 + (0.02 * 0.1 / 0.0225) ** 2))
    assert r.error == pytest.approx(0.16, abs=5e-4)


def test_bind_clips_point_and_interval():
    assert bind(Rate(0.1, 0.3)).ci == (0.0, pytest.approx(0.4))
    risk = bind(Rate(1.1, 0.5))
    assert (risk.value, risk.ci) == (1.0, (pytest.approx(0.6), 1.0))


def test_attack_result_chain_by_hand():
    # 500 attacks: 200 successes on training, 100 on control, 40 for the baseline.
    res = AttackResult("x", 500, 200, 40, 100)
    a = ((200 + Z * Z / 2) / (500 + Z * Z), Z / (500 + Z * Z) * sqrt(200 * 300 / 500 + Z * Z / 4))
    c = ((100 + Z * Z / 2) / (500 + Z * Z), Z / (500 + Z * Z) * sqrt(100 * 400 / 500 + Z * Z / 4))
    risk = (a[0] - c[0]) / (1 - c[0])
    err = sqrt((a[1] / (1 - c[0])) ** 2 + (c[1] * (a[0] - 1) / (1 - c[0]) ** 2) ** 2)
    out = res.risk()
    assert out.value == pytest.approx(risk)
    assert out.ci == (pytest.approx(risk - err), pytest.approx(risk + err))
    assert 0.24 < out.value < 0.26 and out.ci[0] > 0.15
    # without a control the risk is the attack rate; the baseline's too
    assert AttackResult("x", 500, 200, 40, None).risk().value == pytest.approx(a[0])
    assert res.risk(baseline=True).value == pytest.approx((40 + Z * Z / 2) / (500 + Z * Z))
    assert res.warnings() == []
    assert AttackResult("x", 500, 10, 40, 5).warnings()  # no better than the baseline



def test_a_control_attacked_every_time_has_no_measurable_risk():
    # Wilson keeps rates below 1 for any confidence; at confidence 0 the rate is the plain share and can be 1.
    res = AttackResult("x", 10, 10, 0, 10, confidence_level=0.0)
    assert res.control_rate.value == 1.0
    assert res.risk().value != res.risk().value  # NaN
    assert "cannot be measured" in res.warnings()[-1]
