# Adopt an organization token that already exists in Pulumi Cloud, with a Terraform >= 1.5
# `import` block: `terraform plan` shows the import, `terraform apply` records it in state.
#
# Replace TOKEN_ID with the token's ID (Pulumi Cloud: Settings → Access Tokens), and make the
# resource's arguments match the token, or the plan replaces it. Older Terraform versions use
# `terraform import pulumiservice_api_tokens_orgtoken.ci acme/TOKEN_ID` instead of the block.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

provider "pulumiservice" {}

import {
  to = pulumiservice_api_tokens_orgtoken.ci
  # ORG/TOKEN_ID. The older form ORG/NAME/TOKEN_ID is accepted too, and checks the name.
  id = "acme/TOKEN_ID"
}

resource "pulumiservice_api_tokens_orgtoken" "ci" {
  org_name    = "acme"
  name        = "ci-deployments-v1"
  description = "Used by the deployment pipeline"
}

# Null after an import: Pulumi Cloud shows a token's value only once, when it is created.
output "token_value" {
  value     = pulumiservice_api_tokens_orgtoken.ci.token_value
  sensitive = true
}
