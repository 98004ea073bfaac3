"""`make demo`: the quick start, end to end, against the local Pulumi Cloud emulator.

Starts the emulator, installs the provider into a private filesystem mirror, runs real
`terraform init` and `terraform apply` on examples/quickstart, shows the created token's ID
(never its value) and `terraform state list`, then destroys everything and stops the emulator.
Nothing outside `.demo/` in the checkout is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".demo"
TERRAFORM = ROOT / ".tools" / "bin" / "terraform-1.15.5"
ACCESS_TOKEN = "pul-demo-access-token"
ORG = "acme"


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def run(env: dict[str, str], *args: str, capture: bool = False) -> str:
    print("$ terraform " + " ".join(args), flush=True)
    result = subprocess.run(
        [str(TERRAFORM), *args],
        cwd=WORK / "config",
        env=env,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"demo failed: `terraform {' '.join(args)}` exited {result.returncode}")
    return result.stdout or ""


def main() -> int:
    if not TERRAFORM.exists():
        raise SystemExit(f"{TERRAFORM} is missing; run `make demo` (it installs Terraform first)")
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "config").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "quickstart" / "main.tf", WORK / "config" / "main.tf")

    step("Starting the local Pulumi Cloud emulator")
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tfprovider.emulator",
            "--access-token",
            ACCESS_TOKEN,
            "--org",
            ORG,
            "--db",
            str(WORK / "emulator.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        first = emulator.stdout.readline().strip()
        if not first.startswith("PULUMI_BACKEND_URL="):
            raise SystemExit(f"the emulator did not start: {first!r}")
        url = first.partition("=")[2]
        print(f"emulator listening at {url}, organization {ORG!r}")

        step("Installing the provider into a private filesystem mirror")
        plugins = WORK / "plugins"
        # The launcher finds this venv's Python through a per-user pointer file under
        # XDG_CONFIG_HOME: the demo keeps it in .demo/ too, like everything else it writes.
        config_home = {"XDG_CONFIG_HOME": str(WORK / "config")}
        subprocess.run(
            [sys.executable, "-m", "tfprovider", "install", "--plugins-dir", str(plugins)],
            check=True,
            env={**os.environ, **config_home},
        )
        cli_config = WORK / "terraform.rc"
        cli_config.write_text(
            "provider_installation {\n"
            f"  filesystem_mirror {{\n    path    = {json.dumps(str(plugins))}\n"
            '    include = ["registry.terraform.io/pulumi/*"]\n  }\n'
            '  direct {\n    exclude = ["registry.terraform.io/pulumi/*"]\n  }\n}\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
        env.update(
            TF_CLI_CONFIG_FILE=str(cli_config),
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            PULUMI_ACCESS_TOKEN=ACCESS_TOKEN,
            PULUMI_BACKEND_URL=url,
            TF_VAR_org_name=ORG,
            **config_home,
        )

        step("terraform init")
        run(env, "init", "-input=false", "-no-color")
        step("terraform apply")
        run(env, "apply", "-auto-approve", "-input=false", "-no-color")

        step("The created token (its value stays secret in the state)")
        token_id = json.loads(run(env, "output", "-json", capture=True))["token_id"]["value"]
        print(f"token_id = {token_id}")
        print(run(env, "state", "list", capture=True), end="")

        step("terraform destroy")
        run(env, "destroy", "-auto-approve", "-input=false", "-no-color")
    finally:
        step("Stopping the emulator")
        emulator.terminate()
        emulator.wait(timeout=10)
    print("\nDemo complete.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
