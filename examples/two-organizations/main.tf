# Tokens in two Pulumi Cloud organizations from one configuration: one provider block per
# organization, told apart by `alias`, each with its own access token. Every resource then names
# the provider it belongs to.
#
# Pass the access tokens as variables, for example through the environment:
#   export TF_VAR_production_access_token=pul-…   TF_VAR_staging_access_token=pul-…
terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

variable "production_access_token" {
  type        = string
  description = "A Pulumi Cloud access token allowed to manage acme-production's tokens."
  sensitive   = true
}

variable "staging_access_token" {
  type        = string
  description = "A Pulumi Cloud access token allowed to manage acme-staging's tokens."
  sensitive   = true
}

provider "pulumiservice" {
  alias        = "production"
  access_token = var.production_access_token
}

provider "pulumiservice" {
  alias        = "staging"
  access_token = var.staging_access_token
}

resource "pulumiservice_api_tokens_orgtoken" "production_ci" {
  provider    = pulumiservice.production
  org_name    = "acme-production"
  name        = "ci-deployments-v1"
  description = "Deploys acme-production from CI"
  reason      = "Managed by Terraform"
}

resource "pulumiservice_api_tokens_orgtoken" "staging_ci" {
  provider    = pulumiservice.staging
  org_name    = "acme-staging"
  name        = "ci-deployments-v1" # names are unique per organization, so both may use this one
  description = "Deploys acme-staging from CI"
  reason      = "Managed by Terraform"
}

output "token_values" {
  value = {
    production = pulumiservice_api_tokens_orgtoken.production_ci.token_value
    staging    = pulumiservice_api_tokens_orgtoken.staging_ci.token_value
  }
  sensitive = true
}
