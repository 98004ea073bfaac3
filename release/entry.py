"""The release executable's main script: PyInstaller runs this file when the executable starts."""

from tfprovider.__main__ import frozen_main

frozen_main()
