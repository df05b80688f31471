"""The shipped systemd units: systemd-analyze accepts them, and they say what gigqd needs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gigqd.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
UNITS = {"gigqd.service": "/etc/gigqd/gigqd.toml", "gigqd@.service": "/etc/gigqd/%i.toml"}
STATE = {"gigqd.service": "gigqd", "gigqd@.service": "gigqd/%i"}
SHIPPED_GIGQD = "/usr/local/bin/gigqd"
INSTALL_TIMEOUT = 600


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Section -> directive -> every value it was given, in order (directives may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service(name: str) -> dict[str, str]:
    """The [Service] section, each directive's last value (the one systemd keeps)."""
    return {key: values[-1] for key, values in parse_unit((ROOT / "systemd" / name).read_text())["Service"].items()}


def seconds(timespan: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(s|sec|min)?", timespan)
    assert match, f"unexpected time span {timespan!r}"
    return float(match.group(1)) * (60 if match.group(2) == "min" else 1)


# systemd-analyze verify ------------------------------------------------------------

def find_or_install_systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("systemd-analyze is not installed, and installing it needs root and apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", "systemd"]
    try:
        if subprocess.run(install, env=env, capture_output=True, timeout=INSTALL_TIMEOUT).returncode != 0:
            # a fresh image often has no package lists yet
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=INSTALL_TIMEOUT)
            subprocess.run(install, env=env, capture_output=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.skip(f"installing systemd took more than {INSTALL_TIMEOUT} s")
    return shutil.which("systemd-analyze") or pytest.skip("systemd-analyze is missing and apt-get could not install it")


@pytest.fixture(scope="module")
def analyze() -> list[str]:
    tool = find_or_install_systemd_analyze()
    help_text = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=30).stdout
    # Offline checks only: no man pages, no generators; and (systemd 250+) judge our unit, not the host's.
    wanted = ["--man=no", "--generators=no", "--recursive-errors=no"]
    return [tool, "verify", *[option for option in wanted if option.split("=")[0] in help_text]]


def installed_gigqd() -> str:
    script = Path(sys.executable).parent / "gigqd"
    found = str(script) if script.exists() else shutil.which("gigqd")
    assert found, "the gigqd script is not installed next to this Python nor on PATH"
    return found


def complaints(analyze: list[str], unit: Path) -> list[str]:
    """What systemd-analyze says about `unit`; empty means it is sound.

    verify exits 0 on an unknown directive or a bad value (systemd logs and ignores
    those lines), so every line it prints about our unit counts as a failure too.
    """
    result = subprocess.run([*analyze, str(unit)], capture_output=True, text=True, timeout=60, cwd=unit.parent)
    output = (result.stdout + result.stderr).splitlines()
    if result.returncode != 0:
        return [f"exit status {result.returncode}", *output]
    return [line for line in output if "gigqd" in line]


def staged(name: str, folder: Path, text: str | None = None) -> Path:
    """A copy of the unit whose ExecStart runs the gigqd really installed here, so verify can find it."""
    text = (ROOT / "systemd" / name).read_text() if text is None else text
    unit = folder / name
    unit.write_text(text.replace(SHIPPED_GIGQD, installed_gigqd()))
    return unit


@pytest.mark.parametrize("name", sorted(UNITS))
def test_systemd_analyze_verify_accepts_the_unit(name, analyze, tmp_path):
    assert complaints(analyze, staged(name, tmp_path)) == []


def test_the_staged_copy_changes_only_the_gigqd_path(tmp_path):
    for name in UNITS:
        shipped = (ROOT / "systemd" / name).read_text()
        assert SHIPPED_GIGQD in shipped
        assert staged(name, tmp_path).read_text() == shipped.replace(SHIPPED_GIGQD, installed_gigqd())


@pytest.mark.parametrize(
    "breakage",
    [
        lambda text: text.replace("KillMode=mixed", "KilMode=mixed"),
        lambda text: text.replace("TimeoutStopSec=60", "TimeoutStopSec=sixty"),
        lambda text: re.sub(r"(?m)^ExecStart=.*\n", "", text),
    ],
    ids=["typo-in-directive", "bad-value", "no-ExecStart"],
)
def test_verify_fails_on_a_broken_unit(breakage, analyze, tmp_path):
    for name in UNITS:
        broken = breakage((ROOT / "systemd" / name).read_text())
        assert broken != (ROOT / "systemd" / name).read_text()
        assert complaints(analyze, staged(name, tmp_path, broken)) != []


# what the units must say ------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(UNITS))
def test_the_unit_runs_gigqd_the_way_it_needs(name):
    unit = service(name)
    assert unit["ExecStart"] == f"{SHIPPED_GIGQD} --config {UNITS[name]}"
    assert unit["Type"] == "notify"
    assert unit["NotifyAccess"] == "main"
    assert unit["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert unit["KillMode"] == "mixed"
    defaults = Settings()
    assert seconds(unit["TimeoutStopSec"]) > defaults.graceful_timeout + defaults.kill_grace
    assert seconds(unit["WatchdogSec"]) > 0
    assert unit["Restart"] == "on-failure"
    assert unit["OOMPolicy"] == "continue"


@pytest.mark.parametrize("name", sorted(UNITS))
def test_the_unit_runs_as_gigqd_in_its_state_directory_hardened(name):
    unit = service(name)
    assert (unit["User"], unit["Group"]) == ("gigqd", "gigqd")
    assert unit["StateDirectory"] == STATE[name]
    assert unit["StateDirectoryMode"] == "0750"
    assert unit["UMask"] == "0077"
    assert unit["NoNewPrivileges"] == "yes"
    assert unit["ProtectSystem"] == "strict"
    assert unit["ProtectHome"] == "yes"
    assert unit["PrivateTmp"] == "yes"
    # each would break gigqd: the doorbell is an abstract socket; a restricted family list or syscall filter
    # could refuse AF_UNIX or prctl(PR_SET_CHILD_SUBREAPER)
    assert not {"PrivateNetwork", "RestrictAddressFamilies", "SystemCallFilter", "MemoryDenyWriteExecute"} & set(unit)


def test_the_template_differs_only_in_its_instance():
    plain, template = service("gigqd.service"), service("gigqd@.service")
    differing = {key for key in plain.keys() | template.keys() if plain.get(key) != template.get(key)}
    assert differing == {"ExecStart", "StateDirectory"}
    for name in UNITS:
        assert parse_unit((ROOT / "systemd" / name).read_text())["Install"] == {"WantedBy": ["multi-user.target"]}


def test_the_example_config_keeps_its_database_in_the_state_directory():
    db = re.search(r'(?m)^db = "([^"]+)"', (ROOT / "config" / "gigqd.toml").read_text()).group(1)
    assert Path(db).parent == Path("/var/lib") / STATE["gigqd.service"]
