# Alarms on the chat platform, an SNS topic they notify (encrypted), and a dashboard.
#
# The gateway_* and projector_* metrics come from the metrics sidecar in every gateway
# and projector task (services module): Prometheus scraped over localhost, sent as
# embedded metric format into var.metrics_namespace with the dimensions ClusterName and
# ServiceName (gateway_errors_total also by code). Counters arrive as the increase since
# the previous scrape, so Sum over a period is the increase in it.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  kafka_cluster_name = split("/", var.kafka_cluster_arn)[1]
  kafka_broker_ids   = [for i in range(1, var.kafka_broker_count + 1) : tostring(i)]

  ecs_services = toset(concat(
    [var.gateway_service_name],
    values(var.projector_service_names),
    var.other_ecs_service_names,
  ))

  alarm_actions = [aws_sns_topic.alarms.arn]
}

# --- Topic ---------------------------------------------------------------------------------

data "aws_iam_policy_document" "alarms_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is this key only; the account root statement is the standard delegation to IAM policies.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is this key only.
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

  # CloudWatch publishes alarm notifications into the encrypted topic.
  statement {
    sid       = "CloudWatchAlarmsPublishToTheEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description             = "${var.name}: alarm notifications (SNS)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alarms_key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "alarms" {
  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# --- Projectors ----------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "projector_lag" {
  for_each = var.projector_service_names

  alarm_name        = "${var.name}-projector-${each.key}-lag"
  alarm_description = "The ${each.key} role's worst partition has been more than ${var.projector_lag_threshold} records behind the log for ${var.projector_lag_minutes} minutes (projector_lag, Maximum over partitions and tasks)."

  namespace   = var.metrics_namespace
  metric_name = "projector_lag"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = each.value
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.projector_lag_minutes
  datapoints_to_alarm = var.projector_lag_minutes
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.projector_lag_threshold
  # No data means no sidecar or no task; the running-task alarm covers the latter.
  treat_missing_data = "missing"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

resource "aws_cloudwatch_metric_alarm" "projector_dead_letters" {
  for_each = var.projector_service_names

  alarm_name        = "${var.name}-projector-${each.key}-dead-letters"
  alarm_description = "The ${each.key} role parked records on chat.dead-letter in the last 5 minutes (projector_dead_letters_total increased). Read dlq.reason on the parked records."

  namespace   = var.metrics_namespace
  metric_name = "projector_dead_letters_total"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = each.value
  }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

# --- Gateway and load balancer -------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "gateway_5xx" {
  alarm_name        = "${var.name}-gateway-5xx"
  alarm_description = "The gateways answered more than ${var.gateway_5xx_threshold} requests or frames with unavailable (503) or internal (500) in 5 minutes (gateway_errors_total)."

  comparison_operator = "GreaterThanThreshold"
  threshold           = var.gateway_5xx_threshold
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "errors"
    expression  = "FILL(unavailable, 0) + FILL(internal, 0)"
    label       = "5xx errors"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = toset(["unavailable", "internal"])
    content {
      id = metric_query.value
      metric {
        namespace   = var.metrics_namespace
        metric_name = "gateway_errors_total"
        dimensions = {
          ClusterName = var.ecs_cluster_name
          ServiceName = var.gateway_service_name
          code        = metric_query.value
        }
        stat   = "Sum"
        period = 300
      }
    }
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

# The gateways keep serving when they cannot write audit records (fail open), so the
# gaps in the audit trail must be seen by someone.
resource "aws_cloudwatch_metric_alarm" "gateway_audit_failures" {
  alarm_name        = "${var.name}-gateway-audit-failures"
  alarm_description = "A gateway could not write audit records to chat.audit in the last 5 minutes (audit_failures_total increased): the audit trail has a gap. The gateway logs each one with its action and actor."

  namespace   = var.metrics_namespace
  metric_name = "audit_failures_total"
  dimensions = {
    ClusterName = var.ecs_cluster_name
    ServiceName = var.gateway_service_name
  }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

resource "aws_cloudwatch_metric_alarm" "nlb_unhealthy_hosts" {
  alarm_name        = "${var.name}-nlb-unhealthy-gateways"
  alarm_description = "At least one gateway has failed the load balancer's /readyz check for 3 minutes."

  namespace   = "AWS/NetworkELB"
  metric_name = "UnHealthyHostCount"
  dimensions = {
    LoadBalancer = var.load_balancer_arn_suffix
    TargetGroup  = var.target_group_arn_suffix
  }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

resource "aws_cloudwatch_metric_alarm" "nlb_resets" {
  alarm_name        = "${var.name}-nlb-reset-surge"
  alarm_description = "The load balancer itself reset more than ${var.nlb_reset_threshold} TCP connections in 5 minutes (TCP_ELB_Reset_Count): sockets dropped by idle timeout, or no target to send them to."

  namespace   = "AWS/NetworkELB"
  metric_name = "TCP_ELB_Reset_Count"
  dimensions = {
    LoadBalancer = var.load_balancer_arn_suffix
  }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.nlb_reset_threshold
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

# --- ECS services --------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "ecs_running_below_desired" {
  for_each = local.ecs_services

  alarm_name        = "${each.value}-running-below-desired"
  alarm_description = "${each.value} has run fewer tasks than desired for 5 minutes (Container Insights): tasks failing to start or crashing."

  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 5
  treat_missing_data  = "missing"

  metric_query {
    id          = "missing_tasks"
    expression  = "desired - running"
    label       = "desired - running"
    return_data = true
  }

  metric_query {
    id = "desired"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "DesiredTaskCount"
      dimensions = {
        ClusterName = var.ecs_cluster_name
        ServiceName = each.value
      }
      stat   = "Average"
      period = 60
    }
  }

  metric_query {
    id = "running"
    metric {
      namespace   = "ECS/ContainerInsights"
      metric_name = "RunningTaskCount"
      dimensions = {
        ClusterName = var.ecs_cluster_name
        ServiceName = each.value
      }
      stat   = "Average"
      period = 60
    }
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

# --- Kafka (MSK) ---------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "kafka_disk" {
  for_each = toset(local.kafka_broker_ids)

  alarm_name        = "${var.name}-kafka-broker-${each.value}-disk"
  alarm_description = "MSK broker ${each.value}'s data volume is more than ${var.kafka_disk_used_percent} % full (KafkaDataLogsDiskUsed). The platform's topics keep their records forever: grow the volumes."

  namespace   = "AWS/Kafka"
  metric_name = "KafkaDataLogsDiskUsed"
  dimensions = {
    "Cluster Name" = local.kafka_cluster_name
    "Broker ID"    = each.value
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.kafka_disk_used_percent
  treat_missing_data  = "missing"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

# --- Redis (ElastiCache) -------------------------------------------------------------------

# count, not for_each: the node ids derive from the replication group's endpoint, which
# is known only after apply, while their number is known at plan.
resource "aws_cloudwatch_metric_alarm" "redis_cpu" {
  count = length(var.redis_cache_cluster_ids)

  alarm_name        = "${var.name}-redis-node-${count.index + 1}-engine-cpu"
  alarm_description = "Cache node ${var.redis_cache_cluster_ids[count.index]}'s engine thread has been more than ${var.redis_cpu_percent} % busy for 15 minutes (EngineCPUUtilization)."

  namespace   = "AWS/ElastiCache"
  metric_name = "EngineCPUUtilization"
  dimensions = {
    CacheClusterId = var.redis_cache_cluster_ids[count.index]
  }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.redis_cpu_percent
  treat_missing_data  = "missing"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}

resource "aws_cloudwatch_metric_alarm" "redis_memory" {
  count = length(var.redis_cache_cluster_ids)

  alarm_name        = "${var.name}-redis-node-${count.index + 1}-memory"
  alarm_description = "Cache node ${var.redis_cache_cluster_ids[count.index]} uses more than ${var.redis_memory_percent} % of its memory for data (DatabaseMemoryUsagePercentage)."

  namespace   = "AWS/ElastiCache"
  metric_name = "DatabaseMemoryUsagePercentage"
  dimensions = {
    CacheClusterId = var.redis_cache_cluster_ids[count.index]
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.redis_memory_percent
  treat_missing_data  = "missing"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions
  tags          = var.tags
}
