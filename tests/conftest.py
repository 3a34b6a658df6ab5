"""Fixtures shared by every test: retries without waiting, quiet-but-captured logs."""

from __future__ import annotations

import stamina

# Retries keep their logic in tests (up to three attempts) but never sleep.
stamina.set_testing(True, attempts=3, cap=True)
