output "url" {
  description = "Confluent-compatible API base for CHAT__REGISTRY__URL, resolvable only inside the VPC."
  value       = "http://${local.dns_service_name}.${aws_service_discovery_private_dns_namespace.this.name}:${local.port}/apis/ccompat/v7"
}

output "security_group_id" {
  description = "Security group of the registry tasks (ingress 8080 from the service security group)."
  value       = aws_security_group.this.id
}

output "service_name" {
  description = "Name of the registry's ECS service."
  value       = aws_ecs_service.this.name
}

output "dns_namespace_name" {
  description = "The private DNS namespace (\"<name>.internal\")."
  value       = aws_service_discovery_private_dns_namespace.this.name
}

output "dns_namespace_id" {
  description = "ID of the private DNS namespace, for other internal services."
  value       = aws_service_discovery_private_dns_namespace.this.id
}

output "log_group_name" {
  description = "Log group of the registry tasks."
  value       = aws_cloudwatch_log_group.this.name
}
