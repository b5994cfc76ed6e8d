# One log group per task definition (its containers write to it through awslogs, the
# metrics sidecar under its own stream prefix), and one for the sidecars' embedded metric
# format events, from which CloudWatch extracts the metrics the alarms and the gateway's
# autoscaling read. All encrypted with this module's key.

resource "aws_cloudwatch_log_group" "workload" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, 365 by default (production); staging chooses a shorter one on purpose.
  for_each = local.workloads

  name              = "/ecs/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "metrics" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, 365 by default (production); staging chooses a shorter one on purpose.
  name              = "/ecs/${var.name}/prometheus-metrics"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}
