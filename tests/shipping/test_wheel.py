"""`pip install comms` from a built wheel, not the checkout: the demo must find everything it ships."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from comms.settings import REPO_ROOT


def test_a_wheel_installed_outside_the_checkout_runs_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(REPO_ROOT),
        ],
        check=True,
        timeout=240,
    )
    (wheel,) = dist.glob("comms-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The dependencies come from this interpreter's site-packages as a plain path: its .pth files,
    # the editable install of the checkout among them, are not read.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        timeout=240,
    )
    run = tmp_path / "elsewhere"
    run.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COMMS_")},
        "COMMS_DATA_DIR": str(run / "var"),
        "COLUMNS": "200",
    }
    where = subprocess.run(
        [str(python), "-c", "import comms; print(comms.__file__)"],
        cwd=run,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout
    demo = subprocess.run(
        [str(venv / "bin" / "comms"), "demo"],
        cwd=run,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "sent 18" in demo.stdout
    assert len(list((run / "var" / "archive").rglob("*.pdf"))) >= 16
