output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies (add subscriptions: chat, paging, e-mail)."
  value       = aws_sns_topic.alarms.arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "alarm_names" {
  description = "Every alarm this module creates."
  value = concat(
    [for a in aws_cloudwatch_metric_alarm.projector_lag : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.projector_dead_letters : a.alarm_name],
    [aws_cloudwatch_metric_alarm.gateway_5xx.alarm_name],
    [aws_cloudwatch_metric_alarm.gateway_audit_failures.alarm_name],
    [aws_cloudwatch_metric_alarm.nlb_unhealthy_hosts.alarm_name],
    [aws_cloudwatch_metric_alarm.nlb_resets.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.ecs_running_below_desired : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.kafka_disk : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.redis_cpu : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.redis_memory : a.alarm_name],
  )
}
