"""A minimal provider on the PyPI ``pyvider`` framework, for the launch-latency comparison.

pyvider finds providers through a registry filled by decorators, and refuses a Terraform launch
unless the program's name contains ``terraform-provider`` (as a packaged pyvider provider's would),
so this registers an empty provider and then runs pyvider's own entry point as
``terraform-provider-benchpv provide``. pyvider discovers components after it has printed the
handshake, so resources would not change what is measured. Run by the interpreter of the
benchmark's own pyvider virtual environment.
"""

from __future__ import annotations

import sys

from pyvider.cli.__main__ import main
from pyvider.providers import BaseProvider, ProviderMetadata, register_provider


@register_provider("benchpv")
class BenchProvider(BaseProvider):
    def __init__(self) -> None:
        super().__init__(metadata=ProviderMetadata(name="benchpv", version="0.0.1"))


if __name__ == "__main__":
    sys.argv = ["terraform-provider-benchpv", "provide"]
    main()
