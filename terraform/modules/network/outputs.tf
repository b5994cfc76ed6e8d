output "vpc_id" {
  description = "The VPC's id."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "The VPC's IPv4 range."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "The three availability zone names, in subnet order."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Three public subnets (one per zone, availability_zones order). Only load balancers go here."
  value       = aws_subnet.public[*].id
}

output "service_subnet_ids" {
  description = "Three private subnets for ECS tasks (one per zone), with egress through NAT."
  value       = aws_subnet.service[*].id
}

output "data_subnet_ids" {
  description = "Three private subnets for MSK, ScyllaDB and ElastiCache (one per zone), with no route out of the VPC."
  value       = aws_subnet.data[*].id
}

output "data_subnet_cidr_blocks" {
  description = "The data subnets' ranges, same order as data_subnet_ids (the cql module accepts them to skip a lookup)."
  value       = aws_subnet.data[*].cidr_block
}

output "data_subnet_static_cidr_blocks" {
  description = "The /28 at the top of each data subnet, explicitly reserved for fixed addresses (the ScyllaDB nodes)."
  value       = aws_ec2_subnet_cidr_reservation.data_static[*].cidr_block
}

output "service_security_group_id" {
  description = "Security group every ECS task is attached to; the data modules admit it. No ingress rules of its own; egress to the VPC and HTTPS anywhere."
  value       = aws_security_group.service.id
}

output "nat_gateway_public_ips" {
  description = "Public addresses the service tier's outbound traffic leaves from (for receivers that allow-list webhook senders)."
  value       = aws_eip.nat[*].public_ip
}

output "service_route_table_ids" {
  description = "Route tables of the service subnets (one per zone)."
  value       = aws_route_table.service[*].id
}

output "data_route_table_id" {
  description = "Route table of the data subnets (local routes and the S3 gateway endpoint only)."
  value       = aws_route_table.data.id
}
