# Gateway autoscaling: two target-tracking policies; the service scales out when either
# asks for it and in only when both allow it.
#
#  - CPU: ECSServiceAverageCPUUtilization at gateway.target_cpu_percent.
#  - Connections: the average of gateway_connections per task (the gauge of sockets each
#    gateway holds, published by its metrics sidecar) at
#    gateway.target_connections_per_task. CPU alone misses the cost of many idle
#    WebSockets (memory, file descriptors, presence heartbeats).
#
# Scale-in is slow on purpose: the gateway chosen to stop closes its sockets (1001) and
# its clients reconnect elsewhere, so flapping would be felt by users.

resource "aws_appautoscaling_target" "gateway" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.gateway.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.gateway.min
  max_capacity       = var.gateway.max
  tags               = var.tags
}

resource "aws_appautoscaling_policy" "gateway_cpu" {
  name               = "${var.name}-gateway-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.gateway.service_namespace
  resource_id        = aws_appautoscaling_target.gateway.resource_id
  scalable_dimension = aws_appautoscaling_target.gateway.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.gateway.target_cpu_percent
    scale_out_cooldown = 60
    scale_in_cooldown  = 600

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "gateway_connections" {
  name               = "${var.name}-gateway-connections"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.gateway.service_namespace
  resource_id        = aws_appautoscaling_target.gateway.resource_id
  scalable_dimension = aws_appautoscaling_target.gateway.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.gateway.target_connections_per_task
    scale_out_cooldown = 60
    scale_in_cooldown  = 600

    customized_metric_specification {
      namespace   = local.metrics_namespace
      metric_name = "gateway_connections"
      # Every task reports its own gauge under the same dimensions, so the Average
      # over a period is the average per task.
      statistic = "Average"

      dimensions {
        name  = "ClusterName"
        value = local.cluster_name
      }

      dimensions {
        name  = "ServiceName"
        value = local.gateway_service_name
      }
    }
  }
}
