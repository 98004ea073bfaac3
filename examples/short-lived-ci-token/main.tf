# A CI token that expires on a date you choose, and a rotation that is one variable change.
#
# Set the expiry once per rotation, for example in terraform.tfvars:
#   ci_token_expires = 1798761600   # 2027-01-01T00:00:00Z; `date -u -d 2027-01-01 +%s` prints it
# When the token nears its expiry, set a later time and apply: the token is replaced by a new one.
terraform {
  required_providers {
    pulumiservice = {
      source = "pulumi/pulumiservice"
    }
  }
}

provider "pulumiservice" {}

# A fixed unix time, not `timestamp()`: timestamp() returns a different value on every run, so
# `expires` would change on every plan. Pulumi Cloud cannot update a token, so each change plans a
# replacement; every plan would want a new token (and the provider refuses a replacement that
# keeps the name). A fixed value changes only when you decide to rotate.
variable "ci_token_expires" {
  type        = number
  description = "When the CI token expires, in unix seconds (UTC)."

  # Catches the usual slips before any API call: a fraction, a duration instead of a point in
  # time, or milliseconds instead of seconds. The provider itself checks, when the token is
  # created, that the time is in the future and at most two years ahead. (`% 1 == 0` rather than
  # `floor(x) == x`: Terraform 1.0 validates a -var value before converting it to a number.)
  validation {
    condition = (
      var.ci_token_expires % 1 == 0
      && var.ci_token_expires >= 1000000000 # 2001: anything smaller is a duration, not a date
      && var.ci_token_expires < 10000000000 # 2286: anything larger is in milliseconds
    )
    error_message = "The ci_token_expires value must be a whole unix time in seconds, such as 1798761600 for 2027-01-01T00:00:00Z."
  }
}

resource "pulumiservice_api_tokens_orgtoken" "ci" {
  org_name = "acme"
  # The name follows the expiry: Pulumi Cloud never reuses a token name, so a new expiry (which
  # replaces the token) needs a new name, and this gives it one.
  name        = "ci-until-${var.ci_token_expires}"
  description = "Short-lived token for the deployment pipeline"
  expires     = var.ci_token_expires
  reason      = "Rotated by Terraform"

  # The new token exists before the old one is deleted, so CI is never without a token.
  lifecycle {
    create_before_destroy = true
  }
}

output "token_value" {
  value     = pulumiservice_api_tokens_orgtoken.ci.token_value
  sensitive = true
}
