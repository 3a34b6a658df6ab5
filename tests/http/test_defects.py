"""HTTP: defects of the old workflow that show at the edge, one test each."""

from __future__ import annotations

from tests.http.conftest import Api


class TestDefect11EventIdOverOneKibibyte:
    def test_an_event_id_over_one_kibibyte_is_answered_404_not_500(self, api: Api) -> None:
        """`GET /api/onboarding/<1100 characters>`: no such event, not a storage error."""
        assert api.onboarding("hire-2026-" + "0" * 1090).is_problem(404)
