"""Settings from the environment (with clear errors) and the docs generated from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clockwork import metrics
from clockwork.config import Settings
from clockwork.errors import PermanentError

REPO = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.model is None
    assert settings.completion_max_retries == 3
    assert "/srv" in settings.allowed_roots
    assert settings.policy.allow_privileged_ports is False


def test_secret_from_file_wins_and_is_not_in_repr(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("sk-from-file\n")
    settings = Settings.from_env({"CW_API_KEY": "sk-from-env", "CW_API_KEY_FILE": str(key)})
    assert settings.api_key == "sk-from-file"
    assert "sk-from" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CW_COMPLETION_MAX_RETRIES": "many"}, "CW_COMPLETION_MAX_RETRIES='many' is not a whole number"),
        ({"CW_COMPLETION_TIMEOUT": "0"}, "CW_COMPLETION_TIMEOUT=0 is out of range"),
        ({"CW_ALLOWED_ROOTS": "srv:/opt"}, "CW_ALLOWED_ROOTS: every root must be an absolute path"),
        ({"CW_ALLOW_PRIVILEGED_PORTS": "maybe"}, "CW_ALLOW_PRIVILEGED_PORTS='maybe' is not a boolean"),
        ({"CW_API_KEY_FILE": "/nonexistent/key"}, "CW_API_KEY_FILE=/nonexistent/key: cannot read the file"),
        ({"CW_DEFAULT_ROOT": "relative"}, "CW_DEFAULT_ROOT='relative' must be an absolute path"),
        ({"CW_PEERING": "Not_A_Name"}, "CW_PEERING='Not_A_Name' is not a valid object name"),
        ({"CW_PEERING_LIFETIME": "1"}, "CW_PEERING_LIFETIME=1 is out of range"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(PermanentError, match=re.escape(message)):
        Settings.from_env(env)


def test_every_metric_is_documented() -> None:
    documented = (REPO / "docs" / "metrics.md").read_text()
    names = {m.name for m in metrics.REGISTRY.collect()}
    assert names
    missing = sorted(n for n in names if f"`{n}" not in documented)
    assert missing == [], f"document these in docs/metrics.md: {missing}"


def test_resource_reference_is_generated_from_the_models() -> None:
    from clockwork import docgen
    from clockwork.api.registry import ALL_KINDS

    text = docgen.render()
    assert (REPO / "docs" / "resources.md").read_text() == text, "docs/resources.md drifted: run `make generate`"
    for kind in ALL_KINDS:
        assert f"\n## {kind}\n" in text
    assert "| `schedule` |" in text and "### `logContains`" in text


def test_settings_reference_is_generated_from_the_declarations() -> None:
    import dataclasses

    from clockwork import config, docgen

    text = docgen.render_settings()
    assert (REPO / "docs" / "settings.md").read_text() == text, "docs/settings.md drifted: run `make generate`"
    for f in dataclasses.fields(Settings):
        how = config.declared(f)
        assert how.group in config.GROUPS and how.doc, f.name
        assert f"`{how.env}`" in text
    assert "sk-" not in text


def test_every_setting_has_its_own_variable_and_reads_it() -> None:
    import dataclasses

    from clockwork import config

    names = [config.declared(f).env for f in dataclasses.fields(Settings)]
    assert len(names) == len(set(names))
    assert Settings.from_env({"CW_JOB_TTL": "5", "CW_STATE_DIR": "/s"}).job_ttl == 5
    assert Settings.from_env({}) == Settings()


def test_a_renamed_setting_still_reads_its_earlier_name() -> None:
    """CW_DAEMON_IDLE named the per-object daemons the health scheduler replaced; it is CW_HEALTH_IDLE now."""
    assert Settings.from_env({"CW_DAEMON_IDLE": "45"}).health_idle_seconds == 45
    assert Settings.from_env({"CW_DAEMON_IDLE": "45", "CW_HEALTH_IDLE": "7"}).health_idle_seconds == 7
    with pytest.raises(PermanentError, match=r"CW_DAEMON_IDLE=0 is out of range 1\.\.86400"):
        Settings.from_env({"CW_DAEMON_IDLE": "0"})


def test_architecture_layers_are_generated_from_the_import_contract() -> None:
    from clockwork import docgen

    page = (REPO / "docs" / "architecture.md").read_text()
    contract = (REPO / ".importlinter").read_text()
    assert docgen.splice(page, docgen.render_layers(contract)) == page, (
        "docs/architecture.md drifted: run `make generate`"
    )
    assert docgen.layers(contract)[0] == ["cli"] and ["operator", "local"] in docgen.layers(contract)


def test_peering_is_off_unless_named_and_the_earlier_start_wins() -> None:
    from clockwork.operator.main import peering_priority

    off = Settings.from_env({})
    assert off.peering is None and off.peering_priority is None and off.peering_lifetime == 30
    on = Settings.from_env({"CW_PEERING": "clockwork-system.clockwork", "CW_PEERING_LIFETIME": "5"})
    assert on.peering == "clockwork-system.clockwork" and on.peering_lifetime == 5
    # kopf lets the highest priority work: the replica that started first keeps working
    assert peering_priority(on, started_ns=1_000_000_000) > peering_priority(on, started_ns=2_000_000_000)
    pinned = Settings.from_env({"CW_PEERING": "p", "CW_PEERING_PRIORITY": "-3"})
    assert peering_priority(pinned, started_ns=1) == -3
