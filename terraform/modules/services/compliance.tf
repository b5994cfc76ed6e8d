# Crypto-shredding (services/README.md, "Compliance"): the KMS key that wraps the per-user
# and per-conversation data keys, who may use it, the CHAT__COMPLIANCE__* settings of every process that seals
# or opens content, and the daily `chatctl retention apply`.
#
# The key lives in this module rather than a module of its own: its policy names this
# module's task roles, and the task definitions here name the key, so a separate module
# would need each other's outputs in both directions.

locals {
  # Who calls KMS with the data-key context, and for what (services/README.md, "Compliance"):
  #  - Encrypt wraps a new data key, made on first use in a key period: the gateway (it
  #    seals every message) and the notifications role (it seals previews again, which may
  #    be the first use of a period). A sender's key and, since v1.3, the conversation's
  #    key (one a day by default) are both data keys, wrapped alike.
  #  - Decrypt unwraps a data key to open content: those two, and the fanout (frames), the
  #    search role (what it indexes), the webhook role (previews at each attempt) and the
  #    chatctl task (`chatctl export`; erase and retention only destroy keys, but the
  #    task definition is the same).
  # History stores sealed bytes and presence never opens content: no grant. A role this
  # deployment does not run (webhook without a webhook_url, search left out) gets none.
  kek_sealers = [for w in ["gateway", "projector-notifications"] : w if contains(keys(local.workloads), w)]
  kek_openers = [
    for w in ["projector-fanout", "projector-search", "projector-webhook", "init"] : w
    if contains(keys(local.workloads), w)
  ]

  # The encryption context AwsKmsKek sends with every Encrypt and Decrypt
  # (chat_core::sealing::kms); the key policy allows only calls that carry it.
  kek_context_purpose = "chat-data-key"

  # The gateway, every projector role and the chatctl task read these (task_definitions.tf).
  # The key goes by its ARN: it is what each wrapped key records as its KEK
  # (data_keys.kek), and it names one key for good, where an alias could be moved.
  compliance_environment = {
    CHAT__COMPLIANCE__KEK             = "aws-kms"
    CHAT__COMPLIANCE__KMS_KEY_ID      = aws_kms_key.data_keys.arn
    CHAT__COMPLIANCE__KMS_REGION      = local.region
    CHAT__COMPLIANCE__KEY_PERIOD_DAYS = tostring(var.compliance.key_period_days)
    CHAT__COMPLIANCE__RETENTION_DAYS  = tostring(var.compliance.retention_days)
    CHAT__COMPLIANCE__KEY_CACHE_SECS  = tostring(var.compliance.key_cache_secs)
    # v1.3: the range a group admin may set a conversation's retention in (the gateway
    # refuses others with invalid_retention); max 0 means no upper limit.
    CHAT__COMPLIANCE__CONVERSATION_RETENTION_MIN_DAYS = tostring(var.compliance.conversation_retention_min_days)
    CHAT__COMPLIANCE__CONVERSATION_RETENTION_MAX_DAYS = tostring(var.compliance.conversation_retention_max_days)
  }

  # The daily task applies two retentions: the platform's (retention_days, when above 0)
  # and each conversation's own (set by its admins, v1.3). A conversation's setting is
  # applied only by this task, so it runs whenever conversations may set one, even when
  # the platform keeps content forever.
  retention_scheduled = var.compliance.retention_days > 0 || var.compliance.conversation_retention_enabled
}

# --- The key-encryption key ----------------------------------------------------------------

data "aws_iam_policy_document" "data_keys" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is this key only; the account root may administer it (no Encrypt or Decrypt), which is also what keeps the policy editable.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is this key only; write access is the root's administration and the named task roles' Encrypt under the data-key context.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is this key only.

  # Administration only. The root statement deliberately leaves out Encrypt, Decrypt,
  # ReEncrypt and GenerateDataKey: no IAM policy in the account can grant those, so only
  # the task roles named below can open a data key. kms:Put* keeps PutKeyPolicy with the
  # account, which KMS requires (the lockout safety check).
  statement {
    sid = "AccountAdministersTheKeyButCannotUseIt"
    actions = [
      "kms:CancelKeyDeletion",
      "kms:Create*",
      "kms:Delete*",
      "kms:Describe*",
      "kms:Disable*",
      "kms:Enable*",
      "kms:Get*",
      "kms:List*",
      "kms:Put*",
      "kms:Revoke*",
      "kms:RotateKeyOnDemand",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:Update*",
    ]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "SealersWrapAndUnwrapDataKeys"
    actions   = ["kms:Encrypt", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [for w in local.kek_sealers : aws_iam_role.task[w].arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:purpose"
      values   = [local.kek_context_purpose]
    }
  }

  statement {
    sid       = "OpenersUnwrapDataKeys"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [for w in local.kek_openers : aws_iam_role.task[w].arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:purpose"
      values   = [local.kek_context_purpose]
    }
  }
}

resource "aws_kms_key" "data_keys" {
  description              = "${var.name}: wraps the per-user and per-conversation data keys of crypto-shredding (context purpose=${local.kek_context_purpose}); deleting it makes every sealed message unreadable"
  key_usage                = "ENCRYPT_DECRYPT"
  customer_master_key_spec = "SYMMETRIC_DEFAULT"
  enable_key_rotation      = true
  deletion_window_in_days  = var.compliance.kek_deletion_window_days
  policy                   = data.aws_iam_policy_document.data_keys.json
  tags                     = var.tags
}

resource "aws_kms_alias" "data_keys" {
  name          = "alias/${var.name}-chat-data-keys"
  target_key_id = aws_kms_key.data_keys.key_id
}

# --- Retention: `chatctl retention apply`, daily -------------------------------------------
#
# An EventBridge rule starts the chatctl task definition (the one rollout.sh runs as
# `chatctl init`) with its command replaced. A rule rather than EventBridge Scheduler:
# a rule's target input is the task's overrides (containerOverrides), which the
# Scheduler's ECS target does not take. The task runs in the service subnets with the
# service security group, as the init task does, and reads compliance.retention_days
# from its environment (0: it applies only the conversations' own retention). USER names
# the actor of its `retention_applied` audit record.

resource "aws_cloudwatch_event_rule" "retention" {
  count = local.retention_scheduled ? 1 : 0

  name                = "${var.name}-chatctl-retention"
  description         = "${var.name}: chatctl retention apply (${var.compliance.retention_days > 0 ? "content older than ${var.compliance.retention_days} days becomes unreadable" : "no platform retention"}; each conversation's own retention)"
  schedule_expression = var.compliance.retention_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "retention" {
  count = local.retention_scheduled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.retention[0].name
  target_id = "chatctl-retention"
  arn       = aws_ecs_cluster.this.arn
  role_arn  = aws_iam_role.retention[0].arn

  ecs_target {
    task_definition_arn = aws_ecs_task_definition.init.arn
    task_count          = 1
    launch_type         = "FARGATE"
    platform_version    = "LATEST"

    network_configuration {
      subnets          = var.service_subnet_ids
      security_groups  = [var.service_security_group_id]
      assign_public_ip = false
    }
  }

  input = jsonencode({
    containerOverrides = [{
      name        = "chatctl"
      command     = ["chatctl", "retention", "apply"]
      environment = [{ name = "USER", value = "scheduled-retention" }]
    }]
  })

  # A run that fails to start is retried for an hour; the next day's run catches up
  # anyway (retention destroys everything older than the cut, not one day's worth, for
  # the platform and for each conversation).
  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 3
  }
}

data "aws_iam_policy_document" "retention_assume" {
  count = local.retention_scheduled ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    # Only this rule may use the role (confused deputy).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.name}-chatctl-retention"]
    }
  }
}

# Start the chatctl task definition (any revision of its family: a new apply registers a
# new one) in this cluster only, and hand ECS its two roles; nothing else.
data "aws_iam_policy_document" "retention" {
  count = local.retention_scheduled ? 1 : 0

  statement {
    sid       = "RunTheChatctlTaskInThisCluster"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task-definition/${local.workloads.init.family}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.this.arn]
    }
  }

  statement {
    sid       = "PassTheChatctlTaskRolesToEcs"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution["init"].arn, aws_iam_role.task["init"].arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "retention" {
  count = local.retention_scheduled ? 1 : 0

  name               = "${var.name}-chatctl-retention"
  description        = "EventBridge starts the daily chatctl retention apply task of ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.retention_assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "retention" {
  count = local.retention_scheduled ? 1 : 0

  name   = "run-chatctl-retention"
  role   = aws_iam_role.retention[0].id
  policy = data.aws_iam_policy_document.retention[0].json
}
