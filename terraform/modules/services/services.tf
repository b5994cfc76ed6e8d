# ECS services: the gateway behind the load balancer, one service per projector role.
#
# Rollouts. Terraform registers new task definition revisions (a new image_tag, new
# settings) but does not move the services to them: `task_definition` is ignored after
# creation. terraform/scripts/rollout.sh does that, after `chatctl init` (topics,
# migrations, schemas) has run and exited 0, so a release's services never start
# against a schema or table its init has not created yet.
#
# Deployments: ECS starts the new tasks first (maximum 200 %) and stops old ones only
# once the new ones are healthy (minimum 100 %); the circuit breaker rolls back a
# deployment whose tasks keep failing.

resource "aws_ecs_service" "gateway" {
  name                    = local.gateway_service_name
  cluster                 = aws_ecs_cluster.this.arn
  task_definition         = aws_ecs_task_definition.gateway.arn
  desired_count           = var.gateway.min
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # New tasks get this long to pass the load balancer's /readyz before ECS counts the
  # failures (the gateway may wait up to 60 s for the CQL store at start).
  health_check_grace_period_seconds = 90

  network_configuration {
    subnets          = var.service_subnet_ids
    security_groups  = [var.service_security_group_id, aws_security_group.gateway.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.gateway.arn
    container_name   = "gateway"
    container_port   = local.gateway_port
  }

  tags = var.tags

  # The listener must exist before ECS registers targets in its target group.
  depends_on = [aws_lb_listener.tls, aws_iam_role_policy.execution]

  lifecycle {
    # desired_count belongs to the autoscaling policies; task_definition to rollout.sh.
    ignore_changes = [desired_count, task_definition]
  }
}

# Scaling a projector role. A role's tasks form one consumer group, and Kafka gives each
# partition to one member: a role can use at most kafka_partitions tasks, the rest would
# sit idle. Projector counts are therefore fixed per environment (projectors[role].desired,
# checked against kafka_partitions below) rather than autoscaled; more throughput beyond
# that needs more partitions, which is a new topic (partitions are fixed for a topic's
# life: README, "Configuration").
resource "aws_ecs_service" "projector" {
  for_each = local.projectors

  name                    = local.projector_service_names[each.key]
  cluster                 = aws_ecs_cluster.this.arn
  task_definition         = aws_ecs_task_definition.projector[each.key].arn
  desired_count           = each.value.desired
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.service_subnet_ids
    security_groups  = each.key == "search" ? [var.service_security_group_id, aws_security_group.search[0].id] : [var.service_security_group_id]
    assign_public_ip = false
  }

  # The search task's address under search.<namespace> (an A record while its container
  # health check passes), the name in the gateways' CHAT__GATEWAY__SEARCH_URLS.
  dynamic "service_registries" {
    for_each = each.key == "search" ? aws_service_discovery_service.search[*].arn : []
    content {
      registry_arn = service_registries.value
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.execution]

  lifecycle {
    ignore_changes = [task_definition]

    precondition {
      condition     = each.value.desired <= var.kafka_partitions
      error_message = "projectors.${each.key}.desired (${each.value.desired}) is more than kafka_partitions (${var.kafka_partitions}): a consumer group cannot use more members than partitions."
    }

    precondition {
      condition     = each.key != "search" || var.service_discovery_namespace != null
      error_message = "The search role needs service_discovery_namespace (the schema_registry module's dns_namespace_id and dns_namespace_name): the gateways find it by that name."
    }
  }
}

# The search service's name in the private DNS namespace the schema registry created
# (search.<name>.internal). Cloud Map rather than Service Connect or an internal load
# balancer for the schema registry's reasons (its module's main.tf): plain DNS, nothing
# to pay, and one task needs no balancing.
resource "aws_service_discovery_service" "search" {
  count = local.search_enabled && var.service_discovery_namespace != null ? 1 : 0

  name = local.search_dns_name

  dns_config {
    namespace_id   = var.service_discovery_namespace.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  # ECS reports the task's container health to Cloud Map, so a task whose projector is
  # not alive leaves the answers. (failure_threshold is always 1 for ECS.)
  health_check_custom_config {
    failure_threshold = 1
  }

  tags = var.tags
}
