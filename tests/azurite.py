"""Start Azurite for the tests (`devtools.azurite`), or use the one named by the env."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from devtools import azurite as devtools_azurite
from devtools.azurite import RunningAzurite, connection_string

__all__ = ["Azurite", "connection_string", "start_azurite", "unique_name"]


@dataclass
class Azurite:
    connection_string: str
    running: RunningAzurite | None

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()


def start_azurite() -> Azurite:
    """Azurite for a test session. Raises (so tests fail, never skip) when none can be had."""
    given = os.environ.get("AZURITE_CONNECTION_STRING")
    if given:
        return Azurite(given, None)
    running = devtools_azurite.start()
    return Azurite(running.connection_string, running)


def unique_name(prefix: str) -> str:
    """A throwaway table name: letters and digits only, starting with a letter."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"
