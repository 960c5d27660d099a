"""schemathesis against the real server: every check (status codes and schemas as documented,
negative data rejected, auth not ignored, Allow headers, stateful links) on every operation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from served_api import OPERATOR, Server


def test_the_openapi_spec_passes_schemathesis_with_every_check(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve()
    executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert executable is not None, "schemathesis is a dev dependency"
    result = subprocess.run(
        [
            executable,
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {OPERATOR}",
            "--max-examples",
            "40",
            "--seed",
            "20261121",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # schemathesis keeps its example database in the working directory
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "No issues found" in output
    assert "Tested: 12" in output  # every operation of the spec was exercised
