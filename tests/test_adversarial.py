"""Every case of ``tests/adversarial.py`` ends as it should: a one-line simrec error naming
the input, or a finished run with the expected observation; never another exception or a
hang. (``python tests/adversarial.py`` prints the whole table.)"""

from __future__ import annotations

import pytest
from adversarial import CASES, run_case


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_adversarial_case(case):
    outcome, line = run_case(case)
    assert outcome == case.expect, f"{case.id} {case.what}: {outcome}: {line}"
    for needle in case.needles:
        assert needle in line, f"{case.id}: {needle!r} not in {line!r}"
