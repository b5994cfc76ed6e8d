output "bootstrap_brokers_sasl_scram" {
  description = "Comma-separated host:9096 list for CHAT__KAFKA__BROKERS (SASL_SSL, SCRAM-SHA-512). Broker certificates chain to Amazon's public CAs, so clients need no CA PEM."
  value       = aws_msk_cluster.this.bootstrap_brokers_sasl_scram
}

output "scram_secret_arn" {
  description = "Secrets Manager secret with JSON {\"username\",\"password\"} (CHAT__KAFKA__SASL__USERNAME / __PASSWORD). Encrypted with kms_key_arn: readers need kms:Decrypt on it."
  value       = aws_secretsmanager_secret.scram.arn

  # The association must exist before anything authenticates with the secret.
  depends_on = [aws_msk_scram_secret_association.this]
}

output "cluster_arn" {
  description = "The MSK cluster's ARN (CloudWatch metrics dimension \"Cluster Name\" is var.name)."
  value       = aws_msk_cluster.this.arn
}

output "cluster_name" {
  description = "The MSK cluster's name."
  value       = aws_msk_cluster.this.cluster_name
}

output "kms_key_arn" {
  description = "Customer-managed key for data at rest, the SCRAM secret and the broker logs. Task execution roles that inject the SCRAM secret need kms:Decrypt on it."
  value       = aws_kms_key.this.arn
}

output "security_group_id" {
  description = "The brokers' security group."
  value       = aws_security_group.kafka.id
}

output "broker_log_group_name" {
  description = "CloudWatch log group of the broker logs."
  value       = aws_cloudwatch_log_group.broker.name
}
