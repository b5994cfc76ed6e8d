output "contact_points" {
  description = "CQL contact points, \"host:9042\" (CHAT__CQL__NODES, comma-joined): the nodes' fixed private addresses, or the external ones."
  value       = local.ec2 ? [for ip in local.node_ips : "${ip}:9042"] : var.external_contact_points

  precondition {
    condition     = local.ec2 || (length(var.external_contact_points) > 0 && var.external_local_datacenter != null && var.external_credentials_secret_arn != null)
    error_message = "mode = \"external\" needs external_contact_points, external_local_datacenter and external_credentials_secret_arn."
  }
}

output "local_datacenter" {
  description = "CHAT__CQL__LOCAL_DATACENTER. In ec2 mode the region name (e.g. \"eu-west-1\"): GossipingPropertyFileSnitch with dc = region, rack = availability zone."
  value       = local.ec2 ? local.datacenter : var.external_local_datacenter
}

output "credentials_secret_arn" {
  description = "Secret with JSON {\"username\",\"password\"} (CHAT__CQL__USERNAME / __PASSWORD). In ec2 mode encrypted with kms_key_arn: readers need kms:Decrypt on it."
  value       = local.ec2 ? aws_secretsmanager_secret.credentials[0].arn : var.external_credentials_secret_arn
}

output "ca_certificate_secret_arn" {
  description = "Secret whose string is the PEM CA certificate the node certificates chain to (CHAT__CQL__TLS__CA_PEM; set CHAT__CQL__TLS__ENABLED when not null). Null in external mode without a private CA."
  value       = local.ec2 ? aws_secretsmanager_secret.ca_certificate[0].arn : var.external_ca_certificate_secret_arn

  depends_on = [aws_secretsmanager_secret_version.ca_certificate]
}

output "security_group_id" {
  description = "The nodes' security group; null in external mode."
  value       = local.ec2 ? aws_security_group.node[0].id : null
}

output "kms_key_arn" {
  description = "Key of the nodes' volumes and of the two secrets above (ec2 mode); null in external mode. Task execution roles that inject those secrets need kms:Decrypt on it."
  value       = local.ec2 ? aws_kms_key.node[0].arn : null
}

output "replication_factor" {
  description = "Replication factor the keyspace should use in this datacenter (CHAT__CQL__REPLICATION_FACTOR): 3, one replica per zone. Null in external mode (the external cluster's business)."
  value       = local.ec2 ? 3 : null
}

output "nodes" {
  description = "The ScyllaDB nodes: instance id, fixed private address, zone (= rack). Empty in external mode."
  value = [
    for i in range(local.node_count) : {
      instance_id       = aws_instance.node[i].id
      private_ip        = local.node_ips[i]
      availability_zone = local.node_zones[i]
    }
  ]
}
