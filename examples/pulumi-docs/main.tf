# The resource block exactly as Pulumi's registry documents it (all seven arguments), with the
# required_providers block Terraform needs to find this provider.
terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

resource "pulumiservice_api_tokens_orgtoken" "orgTokenResource" {
  admin       = false
  description = "string"
  expires     = 0
  name        = "string"
  org_name    = "string"
  reason      = "string"
  role_id     = "string"
}
