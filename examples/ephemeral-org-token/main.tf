# A token that lives for one Terraform run (Terraform >= 1.10): created when the run needs it,
# deleted when the run ends, never written to a plan or state file.
#
# Here it gives a second provider block a credential of its own, scoped to a custom role, so the
# resources that provider manages are created with the narrower rights. Terraform opens the
# ephemeral resource during `plan` and again during `apply`: each opening is a new token with a
# random name suffix. If a run is killed before it can delete its token, `expires_in` ends it.
terraform {
  required_version = ">= 1.10.0"

  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

provider "pulumiservice" {}

ephemeral "pulumiservice_api_tokens_orgtoken" "run" {
  org_name    = "acme"
  name_prefix = "terraform-run-"
  role_id     = "token-manager"
  reason      = "Terraform run in the deployment pipeline"
  expires_in  = 1800 # seconds: longer than the run takes
}

provider "pulumiservice" {
  alias        = "scoped"
  access_token = ephemeral.pulumiservice_api_tokens_orgtoken.run.token_value
}

resource "pulumiservice_api_tokens_orgtoken" "ci" {
  provider = pulumiservice.scoped

  org_name    = "acme"
  name        = "ci-deployments-v1"
  description = "Used by the deployment pipeline"
}
