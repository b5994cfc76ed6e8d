# Secrets this module generates: the gateways' shared HS256 key, the bearer token of
# their admin API (only with admin_api_enabled), and the webhook role's HMAC key (only
# with a webhook_url).
#
# Generated with the aws provider alone: Secrets Manager's GetRandomPassword through the
# data source. A data source is read again at every plan and returns a new password each
# time, so the version ignores later changes of secret_string: the first value stays
# until an operator rotates it on purpose (see README, "Rotating the JWT secret"). The
# value is in the state, which is why the environments keep state in an encrypted S3
# bucket. With OpenTofu or Terraform 1.11 or newer the same value could go to
# secret_string_wo instead and stay out of the state; this module supports 1.8.

data "aws_secretsmanager_random_password" "jwt" {
  # The gateway requires at least 32 characters; 64 alphanumerics are ~380 bits.
  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret" "jwt" {
  #checkov:skip=CKV2_AWS_57:Rotating the JWT key signs every user out and must be coordinated with a rolling restart of the gateways; it is a deliberate operator action (README), not a scheduled Lambda.
  name                    = "${var.name}/gateway/jwt-secret"
  description             = "HS256 key shared by every chat gateway (CHAT__GATEWAY__JWT_SECRET)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "jwt" {
  secret_id     = aws_secretsmanager_secret.jwt.id
  secret_string = data.aws_secretsmanager_random_password.jwt.random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

data "aws_secretsmanager_random_password" "webhook" {
  count = var.webhook_url == null ? 0 : 1

  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret" "webhook" {
  #checkov:skip=CKV2_AWS_57:The receiver holds the same HMAC key; rotating it is coordinated with the receiver's owner, not scheduled.
  count = var.webhook_url == null ? 0 : 1

  name                    = "${var.name}/projector/webhook-secret"
  description             = "HMAC-SHA256 key of the webhook role's signatures (CHAT__WEBHOOK__SECRET); give it to the receiver"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "webhook" {
  count = var.webhook_url == null ? 0 : 1

  secret_id     = aws_secretsmanager_secret.webhook[0].id
  secret_string = data.aws_secretsmanager_random_password.webhook[0].random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

# The bearer token of the gateways' admin API (`POST /admin/v1/users/{id}/erase` on the
# ops port 9180: erasure by crypto-shredding, as `chatctl users erase`). Whoever holds it
# can erase any user who is not under a legal hold, so only the gateways' execution role
# may read it (iam.tf), and operators read it with their own IAM rights
# (terraform/README.md, "The gateways' admin API").
data "aws_secretsmanager_random_password" "admin_token" {
  count = var.admin_api_enabled ? 1 : 0

  # The gateway requires at least 32 characters; 64 alphanumerics are ~380 bits.
  password_length     = 64
  exclude_punctuation = true
  include_space       = false
}

resource "aws_secretsmanager_secret" "admin_token" {
  #checkov:skip=CKV2_AWS_57:The gateways read the token only at start; rotating it means a new value and a rolling restart of the gateway service (README), a deliberate operator action, not a scheduled Lambda.
  count = var.admin_api_enabled ? 1 : 0

  name                    = "${var.name}/gateway/admin-token"
  description             = "Bearer token of the chat gateways' admin API on the ops port 9180 (CHAT__GATEWAY__ADMIN_TOKEN)"
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "admin_token" {
  count = var.admin_api_enabled ? 1 : 0

  secret_id     = aws_secretsmanager_secret.admin_token[0].id
  secret_string = data.aws_secretsmanager_random_password.admin_token[0].random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}
