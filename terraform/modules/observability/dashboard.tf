# One dashboard: load and health of the edge first, then the projectors, then the data
# stores, then every alarm's state.

locals {
  ns = var.metrics_namespace
  c  = var.ecs_cluster_name
  gw = var.gateway_service_name

  dashboard_widgets = [
    {
      title = "Gateway: WebSocket connections"
      metrics = [
        [local.ns, "gateway_connections", "ClusterName", local.c, "ServiceName", local.gw, { stat = "Maximum", label = "busiest task" }],
        [local.ns, "gateway_connections", "ClusterName", local.c, "ServiceName", local.gw, { stat = "Average", label = "average per task (autoscaling target)" }],
      ]
    },
    {
      title = "Gateway: CPU and memory (%)"
      metrics = [
        ["AWS/ECS", "CPUUtilization", "ClusterName", local.c, "ServiceName", local.gw, { stat = "Average" }],
        ["AWS/ECS", "MemoryUtilization", "ClusterName", local.c, "ServiceName", local.gw, { stat = "Average" }],
      ]
    },
    {
      title = "Gateway: tasks"
      metrics = [
        ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", local.c, "ServiceName", local.gw, { stat = "Average" }],
        ["ECS/ContainerInsights", "DesiredTaskCount", "ClusterName", local.c, "ServiceName", local.gw, { stat = "Average" }],
      ]
    },
    {
      title = "Gateway: 5xx answers (unavailable, internal)"
      metrics = [
        [local.ns, "gateway_errors_total", "ClusterName", local.c, "ServiceName", local.gw, "code", "unavailable", { stat = "Sum" }],
        [local.ns, "gateway_errors_total", "ClusterName", local.c, "ServiceName", local.gw, "code", "internal", { stat = "Sum" }],
      ]
    },
    {
      title = "Load balancer: TLS flows"
      metrics = [
        ["AWS/NetworkELB", "ActiveFlowCount_TLS", "LoadBalancer", var.load_balancer_arn_suffix, { stat = "Average" }],
        ["AWS/NetworkELB", "NewFlowCount_TLS", "LoadBalancer", var.load_balancer_arn_suffix, { stat = "Sum", yAxis = "right" }],
      ]
    },
    {
      title = "Load balancer: resets and target health"
      metrics = [
        ["AWS/NetworkELB", "TCP_ELB_Reset_Count", "LoadBalancer", var.load_balancer_arn_suffix, { stat = "Sum" }],
        ["AWS/NetworkELB", "TCP_Target_Reset_Count", "LoadBalancer", var.load_balancer_arn_suffix, { stat = "Sum" }],
        ["AWS/NetworkELB", "UnHealthyHostCount", "LoadBalancer", var.load_balancer_arn_suffix, "TargetGroup", var.target_group_arn_suffix, { stat = "Maximum", yAxis = "right" }],
        ["AWS/NetworkELB", "HealthyHostCount", "LoadBalancer", var.load_balancer_arn_suffix, "TargetGroup", var.target_group_arn_suffix, { stat = "Minimum", yAxis = "right" }],
      ]
    },
    {
      title = "Projectors: lag, worst partition (records)"
      metrics = [
        for role, svc in var.projector_service_names :
        [local.ns, "projector_lag", "ClusterName", local.c, "ServiceName", svc, { stat = "Maximum", label = role }]
      ]
    },
    {
      title = "Projectors: dead letters"
      metrics = [
        for role, svc in var.projector_service_names :
        [local.ns, "projector_dead_letters_total", "ClusterName", local.c, "ServiceName", svc, { stat = "Sum", label = role }]
      ]
    },
    {
      title = "Projectors: events applied"
      metrics = [
        for role, svc in var.projector_service_names :
        [local.ns, "projector_events_total", "ClusterName", local.c, "ServiceName", svc, { stat = "Sum", label = role }]
      ]
    },
    {
      title = "Kafka: data volume used (%)"
      metrics = [
        for id in local.kafka_broker_ids :
        ["AWS/Kafka", "KafkaDataLogsDiskUsed", "Cluster Name", local.kafka_cluster_name, "Broker ID", id, { stat = "Maximum", label = "broker ${id}" }]
      ]
    },
    {
      title = "Redis: engine CPU (%)"
      metrics = [
        for id in var.redis_cache_cluster_ids :
        ["AWS/ElastiCache", "EngineCPUUtilization", "CacheClusterId", id, { stat = "Average" }]
      ]
    },
    {
      title = "Redis: memory used for data (%)"
      metrics = [
        for id in var.redis_cache_cluster_ids :
        ["AWS/ElastiCache", "DatabaseMemoryUsagePercentage", "CacheClusterId", id, { stat = "Maximum" }]
      ]
    },
  ]

  all_alarm_arns = concat(
    [for a in aws_cloudwatch_metric_alarm.projector_lag : a.arn],
    [for a in aws_cloudwatch_metric_alarm.projector_dead_letters : a.arn],
    [aws_cloudwatch_metric_alarm.gateway_5xx.arn],
    [aws_cloudwatch_metric_alarm.nlb_unhealthy_hosts.arn],
    [aws_cloudwatch_metric_alarm.nlb_resets.arn],
    [for a in aws_cloudwatch_metric_alarm.ecs_running_below_desired : a.arn],
    [for a in aws_cloudwatch_metric_alarm.kafka_disk : a.arn],
    [for a in aws_cloudwatch_metric_alarm.redis_cpu : a.arn],
    [for a in aws_cloudwatch_metric_alarm.redis_memory : a.arn],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name

  dashboard_body = jsonencode({
    widgets = concat(
      [
        for i, w in local.dashboard_widgets : {
          type   = "metric"
          x      = (i % 2) * 12
          y      = floor(i / 2) * 6
          width  = 12
          height = 6
          properties = {
            title   = w.title
            region  = local.region
            view    = "timeSeries"
            stacked = false
            period  = 60
            metrics = w.metrics
          }
        }
      ],
      [
        {
          type   = "alarm"
          x      = 0
          y      = ceil(length(local.dashboard_widgets) / 2) * 6
          width  = 24
          height = 6
          properties = {
            title  = "Alarms"
            alarms = local.all_alarm_arns
          }
        }
      ],
    )
  })
}
