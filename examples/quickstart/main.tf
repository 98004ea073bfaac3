# Quick start: one organization token for a CI pipeline.
#
# `make demo` runs this against the local Pulumi Cloud emulator. To run it against Pulumi Cloud,
# set PULUMI_ACCESS_TOKEN (and PULUMI_BACKEND_URL for a self-hosted Pulumi Cloud) and set
# org_name below to your organization.
terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

provider "pulumiservice" {}

variable "org_name" {
  type        = string
  description = "The Pulumi Cloud organization that owns the token."
  default     = "acme"
}

resource "pulumiservice_api_tokens_orgtoken" "ci" {
  org_name    = var.org_name
  name        = "ci-deployments-v1"
  description = "Used by the deployment pipeline"
  reason      = "Created by Terraform for the CI pipeline"
}

output "token_id" {
  value = pulumiservice_api_tokens_orgtoken.ci.token_id
}

output "token_value" {
  value     = pulumiservice_api_tokens_orgtoken.ci.token_value
  sensitive = true
}
