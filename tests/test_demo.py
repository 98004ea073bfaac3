"""`make demo` end to end: the quick start creates, shows and destroys a token in the emulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_the_quick_start_and_never_prints_the_token_value() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = completed.stdout
    assert completed.returncode == 0, out + completed.stderr
    for step in (
        "Starting the local Pulumi Cloud emulator",
        "terraform init",
        "terraform apply",
        "terraform destroy",
        "Stopping the emulator",
        "Demo complete.",
    ):
        assert step in out
    assert "token_id = " in out
    assert "pulumiservice_api_tokens_orgtoken.ci\n" in out  # from `terraform state list`
    assert "Destroy complete! Resources: 1 destroyed." in out
    assert "pul-" not in out.replace("pul-demo-access-token", "")  # no token value, ever
