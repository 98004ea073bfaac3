"""``python -m tfprovider.emulator``: the same as the ``pulumi-cloud-emulator`` command."""

from tfprovider.emulator.cli import main

raise SystemExit(main())
