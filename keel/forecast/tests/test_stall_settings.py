"""The stall settings stop start-up with a clear message when they make no sense."""

import os
import subprocess
import sys

import pytest


def _settings_error(**env: str) -> str:
    """Import the settings in a fresh interpreter with `env` and return what it printed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    result = subprocess.run(
        [sys.executable, "-c", "import keel.settings"],
        env={**clean, "KEEL_DEBUG": "1", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEEL_STALL_PERCENTILE": "100"}, "KEEL_STALL_PERCENTILE=100 is not a percentile"),
        ({"KEEL_STALL_PERCENTILE": "eighty"}, "KEEL_STALL_PERCENTILE='eighty' is not a whole"),
        ({"KEEL_STALL_IDLE_DAYS": "0"}, "KEEL_STALL_IDLE_DAYS=0 is not a number of days"),
        ({"KEEL_STALL_MIN_STINTS": "-3"}, "KEEL_STALL_MIN_STINTS=-3 is not a count"),
    ],
)
def test_a_bad_stall_setting_stops_start_up(env: dict[str, str], message: str):
    assert message in _settings_error(**env)


def test_good_stall_settings_load():
    assert (
        _settings_error(
            KEEL_STALL_PERCENTILE="90", KEEL_STALL_IDLE_DAYS="14", KEEL_STALL_MIN_STINTS="50"
        )
        == ""
    )
