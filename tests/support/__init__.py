"""Test support: real Terraform binaries (``install_terraform.py``) and the harness that drives them."""
