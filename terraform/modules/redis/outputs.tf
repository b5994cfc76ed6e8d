output "primary_endpoint" {
  description = "Host name of the primary (follows failovers)."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint" {
  description = "Host name spreading connections over the replicas."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "port" {
  description = "The port, 6379 (TLS only)."
  value       = aws_elasticache_replication_group.this.port
}

output "url" {
  description = "CHAT__REDIS__URL: rediss://<primary_endpoint>:6379, without credentials (the token goes in CHAT__REDIS__PASSWORD). Certificates chain to Amazon's public CAs, so clients need no CA PEM."
  value       = "rediss://${aws_elasticache_replication_group.this.primary_endpoint_address}:${aws_elasticache_replication_group.this.port}"
}

output "auth_token_secret_arn" {
  description = "Secrets Manager secret whose string is the AUTH token (CHAT__REDIS__PASSWORD). Encrypted with kms_key_arn: readers need kms:Decrypt on it."
  value       = aws_secretsmanager_secret.auth_token.arn
}

output "kms_key_arn" {
  description = "Customer-managed key for data at rest, snapshots, the auth token secret and the logs. Task execution roles that inject the token need kms:Decrypt on it."
  value       = aws_kms_key.this.arn
}

output "security_group_id" {
  description = "The nodes' security group."
  value       = aws_security_group.redis.id
}

output "replication_group_id" {
  description = "The replication group's id (CloudWatch metrics dimension)."
  value       = aws_elasticache_replication_group.this.id
}
