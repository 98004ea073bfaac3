"""``python -m tfprovider``: the same entry point as the ``terraform-provider-pulumiservice`` script."""

from tfprovider.cli import main

raise SystemExit(main())
