# IAM, one execution role and (where needed) one task role per task definition.
#
# Execution role (used by ECS to start the task): pull this workload's image from its
# ECR repository, write its log group, read exactly the secrets its container
# definitions inject (and decrypt them only through Secrets Manager).
#
# Task role (used by the containers): the metrics sidecar ships embedded-metric-format
# events to the metrics log group, which is all the projectors' task roles hold in IAM.
# The gateway's also signs the attachment URLs it hands to browsers; the attachments module
# attaches that grant (the bucket's objects and key) to it. The chatctl task's role holds
# no IAM policy at all. Use of the data-key KMS key is granted by that key's own policy to
# the task roles that seal or open content (compliance.tf), not here: the key policy is
# the one place that says who can read messages.

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    # Only tasks of this account may use the roles (confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

locals {
  # Secret ARNs each workload injects (the part before a ":json-key::" suffix).
  workload_secret_arns = {
    for workload, secrets in local.workload_secrets : workload => distinct([for s in secrets : s.arn])
  }

  # Keys that encrypt injected secrets: this module's, plus the other modules' when the
  # caller lists them. Empty list from the caller: any key, still limited by the
  # conditions below to Secrets Manager and to these secrets.
  secret_kms_keys = length(var.secrets_kms_key_arns) > 0 ? concat(var.secrets_kms_key_arns, [aws_kms_key.this.arn]) : ["*"]
}

data "aws_iam_policy_document" "execution" {
  #checkov:skip=CKV_AWS_356:ecr:GetAuthorizationToken has no resource-level permissions; kms:Decrypt on "*" (only when secrets_kms_key_arns is empty) is limited by kms:ViaService and kms:EncryptionContext:SecretARN to the injected secrets.
  #checkov:skip=CKV_AWS_111:No write action is unconstrained: see the statements' resources and conditions.
  for_each = local.workloads

  statement {
    sid       = "EcrAuthorizationHasNoResourceLevelPermissions"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullOwnImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.this[each.value.repository].arn]
  }

  statement {
    sid     = "WriteOwnLogGroup"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      aws_cloudwatch_log_group.workload[each.key].arn,
      "${aws_cloudwatch_log_group.workload[each.key].arn}:*",
    ]
  }

  statement {
    sid       = "ReadInjectedSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.workload_secret_arns[each.key]
  }

  statement {
    sid       = "DecryptInjectedSecretsThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = local.secret_kms_keys
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SecretARN"
      values   = local.workload_secret_arns[each.key]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each = local.workloads

  name               = "${var.name}-${each.key}-execution"
  description        = "ECS execution role of ${each.value.family}: pull its image, write its logs, read its secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.workloads

  name   = "pull-log-secrets"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}

# --- Task roles: the metrics sidecar's permissions --------------------------------------------

locals {
  # Workloads with a metrics sidecar (all but the one-off chatctl task).
  scraped_workloads = { for k, v in local.workloads : k => v if k != "init" }
}

data "aws_iam_policy_document" "metrics_sidecar" {
  #checkov:skip=CKV_AWS_356:cloudwatch:PutMetricData has no resource-level permissions; it is limited to this deployment's namespace by the cloudwatch:namespace condition.
  statement {
    sid     = "ShipEmbeddedMetricFormatEvents"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [
      aws_cloudwatch_log_group.metrics.arn,
      "${aws_cloudwatch_log_group.metrics.arn}:*",
    ]
  }

  # EMF metrics are extracted from the log events above; this is for the agent's
  # PutMetricData path (e.g. a metrics_collected section added later), and only into
  # this deployment's namespace.
  statement {
    sid       = "PutMetricDataIntoOwnNamespaceOnly"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [local.metrics_namespace]
    }
  }
}

# Every task definition has one: the AWS credentials the chat binaries sign KMS calls
# with come from it (CredentialSource, services/README.md), and the data-key KMS key's
# policy names the roles it lets in.
resource "aws_iam_role" "task" {
  for_each = local.workloads

  name               = "${var.name}-${each.key}-task"
  description        = "ECS task role of ${each.value.family}: the metrics sidecar, and the data-key KMS key where its policy names this role"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "task" {
  for_each = local.scraped_workloads

  name   = "metrics-sidecar"
  role   = aws_iam_role.task[each.key].id
  policy = data.aws_iam_policy_document.metrics_sidecar.json
}
