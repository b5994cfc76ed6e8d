# Who may reach what.
#
#  clients --443--> NLB security group --8080 (public), 9180 (/readyz)--> gateway group
#  every task <--9180/9181 (ops ports)--> every task (service security group, self)
#  gateway group --9110 (POST /search)--> search group
#
# The gateway tasks carry two groups: the network module's service group (egress, and
# the data stores' ingress rules name it) and this module's gateway group (ingress from
# the load balancer only). The load balancer preserves the client's address, so the
# gateway rules reference the load balancer's security group rather than its addresses:
# a rule naming the load balancer's group admits traffic it forwards even with client IP
# preservation on, and nothing else.

resource "aws_security_group" "load_balancer" {
  name        = "${var.name}-nlb"
  description = "Chat NLB: TLS from the allowed CIDRs, to the gateways only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-nlb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "load_balancer_tls" {
  for_each = toset(var.allowed_ingress_cidrs)

  security_group_id = aws_security_group.load_balancer.id
  description       = "TLS (HTTPS and WSS) from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "load_balancer_to_gateway" {
  for_each = {
    public = local.gateway_port
    ops    = local.gateway_ops_port
  }

  security_group_id            = aws_security_group.load_balancer.id
  description                  = "To the gateways: ${each.key} port ${each.value}"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.gateway.id
  tags                         = var.tags
}

resource "aws_security_group" "gateway" {
  name        = "${var.name}-gateway"
  description = "Chat gateway tasks: the public and ops ports from the NLB only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-gateway" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "gateway_from_load_balancer" {
  for_each = {
    public = local.gateway_port
    ops    = local.gateway_ops_port
  }

  security_group_id            = aws_security_group.gateway.id
  description                  = "From the NLB: ${each.key} port ${each.value}"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.load_balancer.id
  tags                         = var.tags
}

# Operators' tasks (and any task of the deployment) may read the ops ports: the gateway's
# /metrics and /readyz on 9180, a projector's on 9181 (the projectors bind 127.0.0.1
# today, so this opens nothing on them until they listen on the task's address).
resource "aws_vpc_security_group_ingress_rule" "ops_ports_within_services" {
  security_group_id            = var.service_security_group_id
  description                  = "Chat ops ports (/healthz, /readyz, /metrics) between the deployment's tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.gateway_ops_port
  to_port                      = local.projector_ops_port
  referenced_security_group_id = var.service_security_group_id
  tags                         = var.tags
}

# The search tasks carry the service group and this one. POST /search has no
# authentication (a request names the conversations to search; the gateway is what
# checks the caller is in them), so only the gateway tasks may reach the query port.
resource "aws_security_group" "search" {
  count = local.search_enabled ? 1 : 0

  name        = "${var.name}-search"
  description = "Chat search tasks: the query port from the gateway tasks only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-search" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "search_from_gateway" {
  count = local.search_enabled ? 1 : 0

  security_group_id            = aws_security_group.search[0].id
  description                  = "POST /search from the gateways: port ${local.search_port}"
  ip_protocol                  = "tcp"
  from_port                    = local.search_port
  to_port                      = local.search_port
  referenced_security_group_id = aws_security_group.gateway.id
  tags                         = var.tags
}
