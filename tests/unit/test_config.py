"""Settings: one declaration drives defaults, validation, precedence and the docs."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gigqd.config import ConfigError, load, warnings_for
from gigqd.settings import SETTINGS, Settings, markdown_table

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_alone_make_a_working_configuration():
    settings = load(environ={})
    assert settings.db == "gigq.db" and settings.workers >= 1 and settings.synchronous == "NORMAL"


def test_command_line_beats_environment_beats_file_beats_default(tmp_path):
    config = tmp_path / "gigqd.toml"
    config.write_text("workers = 2\nkill_grace = 1.5\nlog_level = 'warning'\n")
    environ = {"GIGQD_WORKERS": "3", "GIGQD_LOG_LEVEL": "debug"}
    settings = load(str(config), overrides={"workers": 4}, environ=environ)
    assert (settings.workers, settings.log_level, settings.kill_grace, settings.poll_interval) == (4, "debug", 1.5, 1.0)


def test_every_problem_is_reported_at_once_with_the_key_named(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("workers = 'many'\nwrokers = 3\npoll_interval = -1\nsynchronous = 'SOMETIMES'\n")
    with pytest.raises(ConfigError) as raised:
        load(str(config), environ={"GIGQD_KILL_GRACE": "soon", "GIGQD_NOPE": "1"})
    problems = "\n".join(raised.value.problems)
    named = ("workers", "wrokers", "did you mean 'workers'", "poll_interval", "synchronous", "GIGQD_KILL_GRACE",
             "GIGQD_NOPE")
    for key in named:
        assert key in problems
    assert len(raised.value.problems) == 6


def test_missing_and_unparsable_files_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(str(tmp_path / "nope.toml"), environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("workers = = 2")
    with pytest.raises(ConfigError, match="cannot be read"):
        load(str(broken), environ={})


def test_relative_db_in_a_file_is_taken_from_the_files_directory(tmp_path):
    (tmp_path / "gigqd.toml").write_text('db = "jobs.db"\n')
    assert load(str(tmp_path / "gigqd.toml"), environ={}).db == str(tmp_path / "jobs.db")


def test_settings_may_sit_under_a_gigqd_table(tmp_path):
    (tmp_path / "all.toml").write_text("[gigqd]\nworkers = 5\n")
    assert load(str(tmp_path / "all.toml"), environ={}).workers == 5


def test_open_allowed_modules_is_warned_about():
    assert any("allowed_modules" in w for w in warnings_for(Settings()))
    assert warnings_for(Settings(allowed_modules=["tasks"])) == []


def test_star_with_a_socket_group_is_a_configuration_error_naming_the_setting():
    with pytest.raises(ConfigError) as raised:
        load(overrides={"socket_group": "staff"}, environ={})
    assert raised.value.problems == [
        'allowed_modules: "*" is refused while socket_group \'staff\' shares the database and the control socket '
        "with that group: whoever can write to the database could make workers run any function as this user; "
        "list your job modules in allowed_modules instead"]
    assert load(overrides={"socket_group": "staff", "allowed_modules": ["tasks"]}, environ={}).socket_group == "staff"


def test_documented_example_names_every_setting_and_is_valid():
    path = ROOT / "config" / "gigqd.toml"
    assert set(tomllib.loads(path.read_text())) == set(SETTINGS)
    load(str(path), environ={})


def test_docs_table_is_generated_from_the_declarations():
    assert markdown_table() in (ROOT / "docs" / "configuration.md").read_text()


def test_every_setting_has_help():
    assert all(item.metadata["help"].endswith(".") for item in SETTINGS.values())


def test_gigqd_check_lists_errors_and_exits_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("workers = 0\nlog_format = 'xml'\n")
    result = subprocess.run([sys.executable, "-m", "gigqd", "check", "--config", str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "workers" in result.stderr and "log_format" in result.stderr and "2 error(s)" in result.stderr


def test_a_heartbeat_timeout_too_close_to_the_interval_is_refused():
    refusal = r"heartbeat_timeout \(2 s\) must be at least 3 times heartbeat_interval \(1 s\)"
    with pytest.raises(ConfigError, match=refusal):
        load(overrides={"heartbeat_timeout": 2.0, "heartbeat_interval": 1.0}, environ={})
    assert load(overrides={"heartbeat_timeout": 3.0, "heartbeat_interval": 1.0}, environ={}).heartbeat_timeout == 3.0
