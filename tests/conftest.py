"""Shared fixtures: a data folder per test, the settings that point at it, a copy of the templates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _pytest.nodeid import NodeId  # pytest 9.2's structured node ids

from comms.settings import REPO_ROOT, Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environment="test", data_dir=tmp_path / "var")


@pytest.fixture
def templates_copy(tmp_path: Path) -> Path:
    """The real templates, copied so a test may break them on purpose."""
    target = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "templates", target)
    return target


# The slowest tests outside the worker groups, longest first (`./dev test` prints the slowest):
# xdist hands tests out in collection order, so these start early instead of leaving one process
# running a long test alone at the end while the others idle. Groups start first anyway (xdist
# orders work units by size). A prefix moves every test under it.
SLOW_FIRST = (
    "tests/api/test_fuzz.py",
    "tests/cli/test_production_settings.py::test_a_missing_ebox_key_is_reported_in_one_line",
    "tests/shipping/test_wheel.py",
    "tests/templates_tools/test_check.py::test_the_real_templates_pass_every_check_and_render",
    "tests/ledger/test_concurrency.py",
    "tests/service/test_database_outage.py",
    "tests/shipping/test_startup.py",
    "tests/shipping/test_healthcheck.py",
    "tests/templates_tools/test_publishing.py::test_the_commands_publish_approve_and_list",
    "tests/tracking/test_cli.py",
    "tests/compose/test_pool.py",
    "tests/compose/test_killed_render.py",
    "tests/coherence/test_property.py",
)


@pytest.hookimpl(trylast=True)  # after pytest grouped tests by their fixtures, and after xdist
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)),
            len(SLOW_FIRST),
        )

    items.sort(key=rank)
    if getattr(config.option, "loadgroup", False):  # an xdist worker under `--dist loadgroup`
        for item in items:
            _name_xdist_group(item)


def _name_xdist_group(item: pytest.Item) -> None:
    """Appends `@group` to the node id, which is how xdist's scheduler sees an `xdist_group`.

    pytest-xdist 3.8 writes it to `item._nodeid`, which pytest 9.2 no longer reads (structured
    node ids; pytest-dev/pytest-xdist#1386): the groups were silently ignored and worker-process
    tests ran side by side. Drop this once xdist sets the structured id itself.
    """
    names = sorted(
        {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
    )
    suffix = f"@{'_'.join(names)}"
    if not names or item.nodeid.endswith(suffix):
        return
    if not isinstance(item._id, NodeId):  # pytest changed again: say so, never lose groups quietly
        raise pytest.UsageError(f"cannot name the xdist group of {item.nodeid}: see #1386 above")
    item._id = NodeId.parse(item.nodeid + suffix)
