"""A served data home built once per test worker through the real CLI (synthetic market →
hashing features → two small LightGBM training runs → registry), copied per test, and a
real `quantgate serve` process (uvicorn) on a free loopback port."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from served_api import SYMBOLS, TRAIN, ServedHome, Server, cli, ok, start_server, stop_server


@pytest.fixture(scope="session")
def served_home_template(tmp_path_factory: pytest.TempPathFactory) -> ServedHome:
    home = tmp_path_factory.mktemp("served") / "var"
    ok(cli(home, "data", "generate", "--symbols", ",".join(SYMBOLS), "--start", "2025-01-01",
           "--end", "2025-03-20T00:00:00Z", "--seed", "3"))  # fmt: skip
    ok(cli(home, "features", "build", "--embedder", "hashing"))
    first = ok(cli(home, "ml", "train", *TRAIN, "--seed", "7"))["run_id"]
    second = ok(cli(home, "ml", "train", *TRAIN, "--seed", "8"))["run_id"]
    ok(cli(home, "registry", "register-candidate", "--run", first, "--json"))
    ok(cli(home, "registry", "promote", "--all", "--force", "--reason", "synthetic test market",
           "--json"))  # fmt: skip
    return ServedHome(home, first, second)


@pytest.fixture
def served_home(served_home_template: ServedHome, tmp_path: Path) -> ServedHome:
    home = tmp_path / "var"
    shutil.copytree(served_home_template.home, home)
    return ServedHome(home, served_home_template.first_run, served_home_template.second_run)


@pytest.fixture
def serve(served_home: ServedHome) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def run(*extra: str, env: dict[str, str] | None = None) -> Server:
        server = start_server(served_home.home, *extra, env=env)
        started.append(server)
        return server

    yield run
    for server in started:
        stop_server(server)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One xdist worker runs every API test, so the served home is built once (loadgroup)."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.xdist_group("served_home"))
