# Adopt an organization token by its identity, with a Terraform >= 1.12 `import` block: the
# identity names the token by organization and ID as separate values, not one ID string.
#
# Replace TOKEN_ID with the token's ID (Pulumi Cloud: Settings → Access Tokens). To have Terraform
# write the resource block for you, leave it out and run
#   terraform plan -generate-config-out=generated.tf
terraform {
  required_version = ">= 1.12.0"

  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

provider "pulumiservice" {}

import {
  to = pulumiservice_api_tokens_orgtoken.deployer
  identity = {
    org_name = "acme"
    token_id = "TOKEN_ID"
  }
}

resource "pulumiservice_api_tokens_orgtoken" "deployer" {
  org_name    = "acme"
  name        = "deployer"
  description = "Created by hand before Terraform managed it"
}
