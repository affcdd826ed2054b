"""Plan files: the shipped default, and every bad plan refused naming its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.plan import DEFAULT_PLAN, InvalidPlan, load_plan, parse_plan


def test_the_shipped_plan_is_10_25_50_100_with_a_confirmation_before_50() -> None:
    plan = load_plan()
    assert [s.percentage for s in plan.steps] == [10, 25, 50, 100]
    assert [s.confirm for s in plan.steps] == [False, False, True, False]
    assert plan.steps[0].min_dwell_seconds == 86400 and plan.steps[-1].min_dwell_seconds == 7 * 86400
    assert plan.steps[1].gates.max_error_rate == 0.02 and plan.consecutive_error_limit == 4
    assert plan.source == str(DEFAULT_PLAN)


def test_a_step_overrides_the_plan_gates_and_inherits_the_rest() -> None:
    plan = parse_plan("[gates]\nmin_requests = 5\n\n[[steps]]\npercentage = 50\n[steps.gates]\nmax_p95_ratio = 3\n")
    assert plan.steps[0].gates.max_p95_ratio == 3 and plan.steps[0].gates.min_requests == 5
    assert isinstance(plan.steps[0].gates.min_requests, int)


@pytest.mark.parametrize(("text", "message"), [
    ("[[steps]]\npercentage = 10\n\n[[steps]]\npercentage = 5\n", "plan.toml:4: percentage 5 does not increase"),
    ("[[steps]]\npercentage = 101\n", "plan.toml:1: percentage must be a number from 0.01 to 100"),
    ("[[steps]]\npercentage = 10\nmin_dwell_seconds = -1\n", "plan.toml:1: min_dwell_seconds must be"),
    ("[[steps]]\npercentage = 10\nconfirm = 'yes'\n", "confirm must be true or false"),
    ("[[steps]]\npercentage = 10\ndwell = 3\n", "unknown step key 'dwell'"),
    ("[gates]\nmax_error_rate = 2\n[[steps]]\npercentage = 10\n", "max_error_rate must be a number from 0 to 1"),
    ("[gates]\nmax_errors = 2\n[[steps]]\npercentage = 10\n", "unknown gate 'max_errors'"),
    ("window = 3\n[[steps]]\npercentage = 10\n", "unknown key 'window'"),
    ("percentage = \n", "plan.toml: Invalid value (at line 1"),
    ("window_seconds = 60\n", "at least one [[steps]]"),
])
def test_a_bad_plan_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidPlan) as caught:
        parse_plan(text, "plan.toml")
    assert message in str(caught.value)


def test_a_missing_plan_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidPlan, match="cannot read the rollout plan"):
        load_plan(tmp_path / "nope.toml")
