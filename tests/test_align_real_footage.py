"""The face checks on clips made from real photographs of people (tests/real_footage.py).

The floor of issue 7: no single-face clip is rejected for several faces; every group photo,
every clip without a face and every turned head is rejected. The table of
docs/alignment.md is `python tests/real_footage.py`, which runs the same cases.
"""

from __future__ import annotations

import pytest
from real_footage import (
    CASES,
    GROUP,
    NO_FACE,
    PROFILE,
    SINGLE,
    Case,
    meets_floor,
    outcome,
    run_case,
)

from mepipe.shards import ShardOptions
from mepipe.shards.clip import new_landmarker


@pytest.fixture(scope="module")
def landmarker():
    found = new_landmarker(ShardOptions())
    yield found
    found.close()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.expect}: {c.name}")
def test_real_footage_meets_the_floor(case: Case, landmarker, tmp_path):
    result = run_case(case, tmp_path, landmarker)
    said = outcome(result.verdict.status, result.verdict.reasons)
    assert meets_floor(case, said), (said, result.verdict.reasons)
    if case.expect == SINGLE:
        assert not any("faces on frame" in r for r in result.verdict.reasons)
    elif case.expect == NO_FACE:
        assert said == "rejected: no face"
    elif case.expect == PROFILE:
        assert said == "rejected: head turned"
    else:
        assert case.expect == GROUP and result.verdict.status == "rejected"


def test_every_kind_of_footage_is_covered():
    """Single faces (with clutter, grayscale, large frames), profiles, groups, no faces."""
    kinds = {case.kind for case in CASES}
    assert {case.expect for case in CASES} == {SINGLE, GROUP, NO_FACE, PROFILE}
    for words in ("clutter", "grayscale", "4000 px", "group photo", "composed group", "no face"):
        assert any(words in kind for kind in kinds), words
