output "region" {
  description = "Region of the deployment (rollout.sh reads it)."
  value       = var.region
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer: point the public name (the certificate's) at it with an alias record."
  value       = module.services.load_balancer_dns_name
}

output "load_balancer_zone_id" {
  description = "Hosted zone of the load balancer, for the alias record."
  value       = module.services.load_balancer_zone_id
}

output "registry_url" {
  description = "The schema registry's Confluent API base, reachable only inside the VPC."
  value       = module.schema_registry.url
}

output "registry_service_name" {
  description = "ECS service of the schema registry (rollout.sh waits for it before chatctl init)."
  value       = module.schema_registry.service_name
}

output "ecs_cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.services.ecs_cluster_name
}

output "ecr_repository_urls" {
  description = "Where to push chat-gateway, chat-projector and chatctl (tag = image_tag)."
  value       = module.services.ecr_repository_urls
}

output "init_task_definition_family" {
  description = "Family of the `chatctl init` task definition (rollout.sh runs its newest revision)."
  value       = module.services.init_task_definition_family
}

output "init_network_configuration" {
  description = "--network-configuration for `aws ecs run-task` of the init task."
  value       = module.services.init_network_configuration
}

output "data_key_kms_key_arn" {
  description = "The KMS key that wraps the per-user and per-conversation data keys (crypto-shredding). Deleting it makes every sealed message unreadable."
  value       = module.services.data_key_kms_key_arn
}

output "data_key_kms_alias" {
  description = "Alias of the data-key KMS key."
  value       = module.services.data_key_kms_alias
}

output "retention_rule_name" {
  description = "EventBridge rule of the daily `chatctl retention apply`, or null when there is no retention to apply (compliance_retention_days 0 and compliance_conversation_retention_enabled false)."
  value       = module.services.retention_rule_name
}

output "rollout_service_names" {
  description = "The ECS services rollout.sh moves to their newest task definitions, space-separated."
  value       = join(" ", concat(values(module.services.projector_service_names), [module.services.gateway_service_name]))
}

output "rollout_command" {
  description = "Run from the repository root after each apply: chatctl init, then the services onto the new task definitions."
  value       = "terraform/scripts/rollout.sh terraform/environments/production"
}

output "jwt_secret_arn" {
  description = "Secret holding the gateways' JWT key."
  value       = module.services.jwt_secret_arn
}

output "gateway_admin_token_secret_arn" {
  description = "Secret holding the gateways' admin API token (aws secretsmanager get-secret-value), or null with admin_api_enabled false."
  value       = module.services.gateway_admin_token_secret_arn
}

output "webhook_secret_arn" {
  description = "Secret holding the webhook HMAC key (give it to the receiver), or null."
  value       = module.services.webhook_secret_arn
}

output "attachments_bucket_name" {
  description = "The attachments bucket (the gateways get it as CHAT__GATEWAY__ATTACHMENTS__BUCKET)."
  value       = module.attachments.bucket_name
}

output "attachments_bucket_arn" {
  description = "ARN of the attachments bucket."
  value       = module.attachments.bucket_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.observability.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the deployment."
  value       = module.observability.dashboard_name
}

output "sizing" {
  description = "What this environment runs (instance types, counts, task sizes)."
  value       = local.sizing
}
