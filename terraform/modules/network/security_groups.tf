# The group every ECS task (gateway, projectors, schema registry, chatctl) is attached to.
# The data modules allow ingress from this group's id, so membership is what grants access to
# Kafka, CQL and Redis. It has no ingress rules of its own: the services module adds the load
# balancer's, and the registry's, as separate rules on this id.
resource "aws_security_group" "service" {
  #checkov:skip=CKV2_AWS_5:Attached by the services and schema_registry modules to every ECS task; this module only creates it.
  name        = "${var.name}-service"
  description = "ECS tasks of the chat platform; data stores admit this group"
  vpc_id      = aws_vpc.this.id
  tags        = merge(var.tags, { Name = "${var.name}-service" })
}

resource "aws_vpc_security_group_egress_rule" "service_to_vpc" {
  security_group_id = aws_security_group.service.id
  description       = "Anything inside the VPC: Kafka, CQL, Redis, the registry, endpoints, DNS"
  ip_protocol       = "-1"
  cidr_ipv4         = aws_vpc.this.cidr_block
}

resource "aws_vpc_security_group_egress_rule" "service_https_out" {
  security_group_id = aws_security_group.service.id
  description       = "HTTPS anywhere: webhook deliveries, push services, AWS APIs without an endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
