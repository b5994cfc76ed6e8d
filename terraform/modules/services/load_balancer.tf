# A Network Load Balancer terminates TLS on 443 and forwards plain TCP to the gateways'
# port 8080: WebSockets and REST alike, byte for byte, with no HTTP proxying in between.
#
# Idle timeout. The NLB drops a connection on which neither side sent anything for its
# idle timeout. TCP listeners let it be raised to 6000 s (tcp_idle_timeout_seconds), but
# on a TLS listener it is fixed at 350 s and the API refuses the attribute, so it is not
# set here. The gateway itself sends no pings and has no idle timeout
# (services/gateway/PROTOCOL.md, "Heartbeat"), but clients are asked to send a `ping`
# frame about every 30 s (the browser client does every 20 s), far inside 350 s, so a
# live socket is never idle that long. A client that stays silent for more than 350 s
# loses its socket and reconnects and syncs, as after any drop. (Terminating TLS in the
# gateway instead, behind a TCP listener with a 6000 s timeout, would need the
# certificate and its private key inside every task, CHAT__GATEWAY__TLS__*.)
#
# Client addresses. preserve_client_ip is on: the gateways see the client's address as
# the TCP peer, which their per-address limits (THROTTLE__PER_ADDRESS_*,
# MAX_SOCKETS_PER_ADDRESS) key on. With it off, every client would share the NLB's three
# private addresses and those limits would throttle everyone together.

resource "aws_lb" "this" {
  #checkov:skip=CKV_AWS_91:Access logs are written when access_logs_bucket is set; the bucket and its delivery policy are account-level infrastructure outside this module.
  name               = "${var.name}-nlb"
  load_balancer_type = "network"
  internal           = false
  subnets            = var.public_subnet_ids
  security_groups    = [aws_security_group.load_balancer.id]

  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.load_balancer_deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.name
      enabled = true
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "gateway" {
  name                 = "${var.name}-gateway"
  target_type          = "ip"
  protocol             = "TCP"
  port                 = local.gateway_port
  vpc_id               = var.vpc_id
  preserve_client_ip   = "true"
  deregistration_delay = 60

  # A deregistered (draining) gateway keeps its open sockets: the gateway closes them
  # itself with 1001 on SIGTERM, so clients reconnect cleanly rather than seeing resets.
  connection_termination = false

  # /readyz also checks Kafka, Redis and the CQL store. A short blip of one of them
  # would otherwise make every gateway unhealthy at once and the NLB would reset every
  # socket; instead existing connections stay, new ones go to healthy targets (or to all
  # of them when none is healthy: NLBs fail open), and ECS replaces a gateway whose own
  # liveness check fails.
  target_health_state {
    enable_unhealthy_connection_termination = false
  }

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = tostring(local.gateway_ops_port)
    path                = "/readyz"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 2
  }

  tags = var.tags
}

resource "aws_lb_listener" "tls" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "TLS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  # No ALPN: the gateway speaks HTTP/1.1 (WebSocket upgrades need it), and advertising
  # h2 would make browsers send HTTP/2 it does not expect.
  alpn_policy = "None"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.gateway.arn
  }

  tags = var.tags
}
