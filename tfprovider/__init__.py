"""terraform-provider-pulumiservice: Pulumi Cloud organization tokens for Terraform and OpenTofu.

Kept import-free on purpose: Terraform starts the provider several times per command, so
anything imported here is paid on every launch.
"""

__version__ = "0.1.0"
