# The chat platform's ECS side: the cluster, the gateway behind a Network Load Balancer,
# one ECS service per projector role, the one-off `chatctl init` task, their images,
# secrets, logs, metrics sidecars, IAM and autoscaling.
#
# The cluster lives here and the schema_registry module takes its ARN
# (ecs_cluster_arn), while this module takes the registry's URL (registry_url). That is
# no cycle: Terraform and OpenTofu resolve each module input and output on its own, and
# the output ecs_cluster_arn depends only on aws_ecs_cluster.this, never on registry_url.
# (Do not add `depends_on = [module.schema_registry]` to this module's call: that would
# make one.)

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  cluster_name      = var.name
  metrics_namespace = coalesce(var.metrics_namespace, "Chat/${var.name}")

  # The ports the binaries serve. The gateway's public port and its ops port
  # (/healthz, /readyz, /metrics); one ops port for every projector role (each role is
  # its own task, so they do not collide).
  gateway_port       = 8080
  gateway_ops_port   = 9180
  projector_ops_port = 9181

  # The search role: its query port (POST /search, gateways only), where its index lives
  # (a bind mount on the task's ephemeral storage), and the name the gateways call it by
  # (a Cloud Map A record in the namespace the schema registry already uses).
  search_enabled  = contains(keys(var.projectors), "search")
  search_port     = 9110
  search_dir      = "/var/lib/chat-search"
  search_dns_name = "search"
  search_dns_fqdn = var.service_discovery_namespace == null ? null : "${local.search_dns_name}.${var.service_discovery_namespace.name}"
  search_url      = local.search_enabled && local.search_dns_fqdn != null ? "http://${local.search_dns_fqdn}:${local.search_port}" : ""
  search_volume   = "search-index"

  # The webhook role runs only with somewhere to POST to.
  projectors = {
    for role, p in var.projectors : role => p
    if role != "webhook" || var.webhook_url != null
  }

  gateway_service_name = "${var.name}-gateway"
  projector_service_names = {
    for role in keys(local.projectors) : role => "${var.name}-projector-${role}"
  }

  # Every task definition this module registers: the gateway, each projector role, and
  # the init task. Each gets its own execution role (it may read only the secrets it
  # injects and pull only its own image) and its own log group.
  workloads = merge(
    { gateway = { repository = "chat-gateway", family = "${var.name}-gateway" } },
    { for role in keys(local.projectors) : "projector-${role}" => { repository = "chat-projector", family = "${var.name}-projector-${role}" } },
    { init = { repository = "chatctl", family = "${var.name}-chatctl-init" } },
  )
}

# --- KMS key for the logs, the secrets and the images of this module ---------------------

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is this key only; the account root statement is the standard delegation to IAM policies.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is this key only; the account root statement is the standard delegation to IAM policies.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is this key only.
  statement {
    sid       = "AccountAdministersTheKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsThisModulesLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${var.name}/*"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: ECS task logs, the JWT, admin API and webhook secrets, and the ECR images"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-services"
  target_key_id = aws_kms_key.this.key_id
}

# --- Cluster -------------------------------------------------------------------------------

resource "aws_ecs_cluster" "this" {
  name = local.cluster_name

  # RunningTaskCount and DesiredTaskCount per service (the observability module's
  # "fewer tasks than desired" alarms) come from Container Insights.
  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}
