output "load_balancer_dns_name" {
  description = "DNS name of the Network Load Balancer (point the public name's alias or CNAME at it)."
  value       = aws_lb.this.dns_name
}

output "load_balancer_zone_id" {
  description = "Route 53 hosted zone of the load balancer, for an alias record."
  value       = aws_lb.this.zone_id
}

output "load_balancer_arn_suffix" {
  description = "ARN suffix of the load balancer (the LoadBalancer dimension of AWS/NetworkELB metrics)."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the gateways' target group (the TargetGroup dimension of AWS/NetworkELB metrics)."
  value       = aws_lb_target_group.gateway.arn_suffix
}

output "load_balancer_security_group_id" {
  description = "Security group of the load balancer."
  value       = aws_security_group.load_balancer.id
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "ecs_cluster_arn" {
  description = "ARN of the ECS cluster (the schema_registry module runs in it)."
  value       = aws_ecs_cluster.this.arn
}

output "gateway_service_name" {
  description = "Name of the gateway's ECS service."
  value       = aws_ecs_service.gateway.name
}

output "projector_service_names" {
  description = "Name of each projector role's ECS service, by role."
  value       = { for role, s in aws_ecs_service.projector : role => s.name }
}

output "init_task_definition_arn" {
  description = "ARN (with revision) of the newest `chatctl init` task definition."
  value       = aws_ecs_task_definition.init.arn
}

output "init_task_definition_family" {
  description = "Family of the `chatctl init` task definition (run-task with the family runs its newest revision)."
  value       = aws_ecs_task_definition.init.family
}

output "init_task_role_arn" {
  description = "ARN of the chatctl task's role (the data-key KMS key lets it unwrap keys, for `chatctl export`)."
  value       = aws_iam_role.task["init"].arn
}

output "data_key_kms_key_arn" {
  description = "The KMS key that wraps the per-user and per-conversation data keys of crypto-shredding (CHAT__COMPLIANCE__KMS_KEY_ID). Deleting it makes every sealed message unreadable."
  value       = aws_kms_key.data_keys.arn
}

output "data_key_kms_alias" {
  description = "Alias of the data-key KMS key (alias/<name>-chat-data-keys)."
  value       = aws_kms_alias.data_keys.name
}

output "data_key_kms_users" {
  description = "Task roles the data-key KMS key's policy admits, by what they may do: encrypt_decrypt (wrap new data keys and unwrap them) and decrypt (unwrap only)."
  value = {
    encrypt_decrypt = [for w in local.kek_sealers : aws_iam_role.task[w].name]
    decrypt         = [for w in local.kek_openers : aws_iam_role.task[w].name]
  }
}

output "retention_rule_name" {
  description = "EventBridge rule that runs `chatctl retention apply` on compliance.retention_schedule, or null when compliance.retention_days is 0 and compliance.conversation_retention_enabled is false (no retention to apply)."
  value       = one(aws_cloudwatch_event_rule.retention[*].name)
}

output "init_network_configuration" {
  description = "The --network-configuration argument of `aws ecs run-task` for the init task (service subnets, service security group, no public IP)."
  value       = "awsvpcConfiguration={subnets=[${join(",", var.service_subnet_ids)}],securityGroups=[${var.service_security_group_id}],assignPublicIp=DISABLED}"
}

output "log_group_names" {
  description = "Log group of each task definition (gateway, projector-<role>, init), and of the metrics sidecars' EMF events (metrics)."
  value = merge(
    { for k, g in aws_cloudwatch_log_group.workload : k => g.name },
    { metrics = aws_cloudwatch_log_group.metrics.name },
  )
}

output "ecr_repository_urls" {
  description = "URL of each image repository, by image name (chat-gateway, chat-projector, chatctl). Push <url>:<image_tag>."
  value       = { for k, r in aws_ecr_repository.this : k => r.repository_url }
}

output "jwt_secret_arn" {
  description = "Secret holding the gateways' HS256 key."
  value       = aws_secretsmanager_secret.jwt.arn
}

output "gateway_admin_token_secret_arn" {
  description = "Secret holding the bearer token of the gateways' admin API (read it with `aws secretsmanager get-secret-value`), or null with admin_api_enabled false."
  value       = one(aws_secretsmanager_secret.admin_token[*].arn)
}

output "webhook_secret_arn" {
  description = "Secret holding the webhook role's HMAC key (give it to the receiver), or null without a webhook_url."
  value       = one(aws_secretsmanager_secret.webhook[*].arn)
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the scraped gateway_* and projector_* metrics (dimensions ClusterName, ServiceName)."
  value       = local.metrics_namespace
}

output "kms_key_arn" {
  description = "KMS key of this module's log groups, secrets and images."
  value       = aws_kms_key.this.arn
}

output "gateway_task_role_name" {
  description = "Name of the gateways' ECS task role (the attachments module grants it the bucket)."
  value       = aws_iam_role.task["gateway"].name
}

output "gateway_task_role_arn" {
  description = "ARN of the gateways' ECS task role."
  value       = aws_iam_role.task["gateway"].arn
}

output "gateway_security_group_id" {
  description = "Security group of the gateway tasks (besides the service security group)."
  value       = aws_security_group.gateway.id
}

output "search_url" {
  description = "Base URL the gateways reach the search service at (CHAT__GATEWAY__SEARCH_URLS), resolvable only inside the VPC; empty without the search role."
  value       = local.search_url
}

output "search_security_group_id" {
  description = "Security group of the search tasks (the query port 9110 from the gateway tasks only), or null without the search role."
  value       = one(aws_security_group.search[*].id)
}

output "search_ephemeral_storage_gib" {
  description = "Ephemeral storage of the search task (GiB), where its index lives; null without the search role."
  value       = local.search_enabled ? var.search_ephemeral_storage_gib : null
}
