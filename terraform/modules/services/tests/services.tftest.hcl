# Plan/apply against a mocked AWS provider: nothing is created. Run from the module
# directory: tofu init && tofu test

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_secretsmanager_random_password" {
    defaults = { random_password = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" }
  }

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/generated-AbCdEf" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:111122223333:repository/chat-test/image"
      repository_url = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/chat-test/image"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/chat-test/any" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/chat-test-role" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:cluster/chat-test" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/chat-test:1" }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/chat-test-nlb/0123456789abcdef"
      arn_suffix = "net/chat-test-nlb/0123456789abcdef"
      dns_name   = "chat-test-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com"
    }
  }
  mock_resource "aws_service_discovery_service" {
    defaults = { arn = "arn:aws:servicediscovery:eu-west-1:111122223333:service/srv-0123456789abcdef" }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/chat-test-gateway/0123456789abcdef"
      arn_suffix = "targetgroup/chat-test-gateway/0123456789abcdef"
    }
  }
}

variables {
  name                      = "chat-test"
  vpc_id                    = "vpc-0123456789abcdef0"
  public_subnet_ids         = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  service_subnet_ids        = ["subnet-1000000000000000a", "subnet-1000000000000000b", "subnet-1000000000000000c"]
  service_security_group_id = "sg-0123456789abcdef0"
  certificate_arn           = "arn:aws:acm:eu-west-1:111122223333:certificate/11111111-2222-3333-4444-555555555555"
  image_tag                 = "3f2c1ab"

  kafka_bootstrap_brokers = "b-1.chat.kafka.eu-west-1.amazonaws.com:9096,b-2.chat.kafka.eu-west-1.amazonaws.com:9096"
  kafka_scram_secret_arn  = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:AmazonMSK_chat-test-AbCdEf"

  cql_contact_points            = ["10.40.20.10:9042", "10.40.21.10:9042", "10.40.22.10:9042"]
  cql_local_datacenter          = "eu-west-1"
  cql_credentials_secret_arn    = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/cql-credentials-AbCdEf"
  cql_ca_certificate_secret_arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/cql-ca-AbCdEf"

  redis_url                   = "rediss://master.chat-test.abcdef.euw1.cache.amazonaws.com:6379"
  redis_auth_token_secret_arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/redis-auth-AbCdEf"

  registry_url = "http://schema-registry.chat-test.internal:8080/apis/ccompat/v7"

  service_discovery_namespace = { id = "ns-0123456789abcdef", name = "chat-test.internal" }
}

run "defaults" {
  command = apply

  # --- cluster and images ---

  assert {
    condition     = one([for s in aws_ecs_cluster.this.setting : s.value if s.name == "containerInsights"]) == "enabled"
    error_message = "Container Insights must be on."
  }

  assert {
    condition     = toset(keys(aws_ecr_repository.this)) == toset(["chat-gateway", "chat-projector", "chatctl"])
    error_message = "One repository per binary: chat-gateway, chat-projector, chatctl."
  }

  assert {
    condition = alltrue([
      for r in aws_ecr_repository.this :
      r.image_tag_mutability == "IMMUTABLE" && r.image_scanning_configuration[0].scan_on_push && r.encryption_configuration[0].encryption_type == "KMS"
    ])
    error_message = "Repositories must have immutable tags, scan on push and KMS encryption."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].image == "111122223333.dkr.ecr.eu-west-1.amazonaws.com/chat-test/image:3f2c1ab"
    error_message = "The gateway image must be the ECR repository at image_tag."
  }

  # --- load balancer ---

  assert {
    condition     = aws_lb.this.load_balancer_type == "network" && aws_lb.this.enable_cross_zone_load_balancing && !aws_lb.this.internal
    error_message = "An internet-facing NLB with cross-zone load balancing."
  }

  assert {
    condition     = toset(aws_lb.this.subnets) == toset(var.public_subnet_ids)
    error_message = "The NLB must be in the public subnets."
  }

  assert {
    condition = (
      aws_lb_listener.tls.port == 443 && aws_lb_listener.tls.protocol == "TLS" &&
      aws_lb_listener.tls.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06" &&
      aws_lb_listener.tls.alpn_policy == "None" && aws_lb_listener.tls.certificate_arn == var.certificate_arn
    )
    error_message = "TLS on 443 with the ACM certificate, the TLS 1.3/1.2 policy and no ALPN."
  }

  assert {
    condition = (
      aws_lb_target_group.gateway.target_type == "ip" && aws_lb_target_group.gateway.protocol == "TCP" &&
      aws_lb_target_group.gateway.port == 8080 && tostring(aws_lb_target_group.gateway.deregistration_delay) == "60" &&
      aws_lb_target_group.gateway.connection_termination == false && aws_lb_target_group.gateway.preserve_client_ip == "true"
    )
    error_message = "IP targets on TCP 8080, 60 s deregistration delay, no connection termination, client IP preserved."
  }

  assert {
    condition = (
      aws_lb_target_group.gateway.health_check[0].protocol == "HTTP" &&
      aws_lb_target_group.gateway.health_check[0].port == "9180" &&
      aws_lb_target_group.gateway.health_check[0].path == "/readyz"
    )
    error_message = "The target group must health-check HTTP /readyz on the ops port 9180."
  }

  # The ops port (9180: /readyz, /metrics and the admin API) is not behind the load
  # balancer: its one listener, TLS on 443, forwards to the target group on 8080, and the
  # gateway group admits 9180 only from the load balancer's group (its health checks).
  assert {
    condition = (
      aws_lb_listener.tls.default_action[0].type == "forward" &&
      aws_lb_listener.tls.default_action[0].target_group_arn == aws_lb_target_group.gateway.arn &&
      aws_lb_target_group.gateway.port == 8080 &&
      alltrue([for r in aws_vpc_security_group_ingress_rule.load_balancer_tls : r.from_port == 443 && r.to_port == 443])
    )
    error_message = "The load balancer takes 443 only and forwards it to the gateways' public port 8080, never to the ops port."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.gateway_from_load_balancer["ops"].from_port == 9180 &&
      aws_vpc_security_group_ingress_rule.gateway_from_load_balancer["ops"].referenced_security_group_id == aws_security_group.load_balancer.id &&
      aws_vpc_security_group_ingress_rule.gateway_from_load_balancer["ops"].cidr_ipv4 == null &&
      aws_vpc_security_group_ingress_rule.gateway_from_load_balancer["ops"].cidr_ipv6 == null &&
      aws_vpc_security_group_ingress_rule.ops_ports_within_services.referenced_security_group_id == var.service_security_group_id &&
      aws_vpc_security_group_ingress_rule.ops_ports_within_services.cidr_ipv4 == null
    )
    error_message = "The ops port admits the load balancer's group (health checks) and the deployment's own tasks, and no address range."
  }

  # --- gateway ---

  assert {
    condition = (
      aws_ecs_service.gateway.deployment_minimum_healthy_percent == 100 &&
      aws_ecs_service.gateway.deployment_maximum_percent == 200 &&
      aws_ecs_service.gateway.deployment_circuit_breaker[0].enable &&
      aws_ecs_service.gateway.deployment_circuit_breaker[0].rollback
    )
    error_message = "Gateway deployments: 100 % / 200 % with the circuit breaker rolling back."
  }

  assert {
    condition     = toset(aws_ecs_service.gateway.network_configuration[0].security_groups) == toset([var.service_security_group_id, aws_security_group.gateway.id]) && !aws_ecs_service.gateway.network_configuration[0].assign_public_ip
    error_message = "Gateway tasks: the service group and the gateway group, no public IP."
  }

  assert {
    condition     = aws_ecs_task_definition.gateway.runtime_platform[0].cpu_architecture == "ARM64"
    error_message = "Tasks default to ARM64 (Graviton)."
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].readonlyRootFilesystem == true &&
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].user == "10001:10001" &&
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].stopTimeout == 120
    )
    error_message = "The gateway container: read-only root, non-root user, stopTimeout 120."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].healthCheck.command == ["CMD", "chat-gateway", "healthcheck"]
    error_message = "The gateway's container health check is `chat-gateway healthcheck`."
  }

  assert {
    condition = (
      contains(jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment, { name = "CHAT__GATEWAY__SHUTDOWN_SPREAD_SECS", value = "60" }) &&
      !contains([for e in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment : e.name], "CHAT__GATEWAY__GATEWAY_ID") &&
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].stopTimeout == 120
    )
    error_message = "Gateways close their sockets over 60 s inside a 120 s stop timeout, and each task makes its own gateway id."
  }

  assert {
    condition = contains(
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].secrets,
      { name = "CHAT__KAFKA__SASL__USERNAME", valueFrom = "${var.kafka_scram_secret_arn}:username::" }
    )
    error_message = "The SCRAM username must come from the secret's JSON key."
  }

  assert {
    condition = contains(
      [for s in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].secrets : s.name],
      "CHAT__GATEWAY__JWT_SECRET"
    )
    error_message = "The gateway must get its JWT secret from Secrets Manager."
  }

  assert {
    condition = alltrue([
      for e in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment :
      !can(regex("(?i)password|secret|token", e.name))
    ])
    error_message = "No secret may be a plain environment value."
  }

  assert {
    condition     = !anytrue([for e in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment : startswith(e.name, "CHAT__GATEWAY__ATTACHMENTS__")])
    error_message = "Without an attachments bucket the gateway gets no CHAT__GATEWAY__ATTACHMENTS__ settings."
  }

  assert {
    condition = contains(
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment,
      { name = "CHAT__KAFKA__SECURITY_PROTOCOL", value = "sasl_ssl" }
      ) && contains(
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment,
      { name = "CQL_NODES", value = "10.40.20.10:9042,10.40.21.10:9042,10.40.22.10:9042" }
    )
    error_message = "Kafka over SASL_SSL and the CQL nodes as a comma list."
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[1].name == "cloudwatch-agent" &&
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[1].image == "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:${var.cloudwatch_agent_version}" &&
      contains([for e in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[1].environment : e.name], "CW_CONFIG_CONTENT") &&
      contains([for e in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[1].environment : e.name], "PROMETHEUS_CONFIG_CONTENT")
    )
    error_message = "The gateway task carries the pinned CloudWatch agent with its two configurations."
  }

  assert {
    condition = jsondecode(one([
      for e in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[1].environment : e.value if e.name == "CW_CONFIG_CONTENT"
    ])).logs.metrics_collected.prometheus.emf_processor.metric_namespace == "Chat/chat-test"
    error_message = "The agent publishes into Chat/<name>."
  }

  assert {
    condition = strcontains(one([
      for e in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[1].environment : e.value if e.name == "PROMETHEUS_CONFIG_CONTENT"
    ]), "localhost:9180")
    error_message = "The gateway's sidecar scrapes the ops port over localhost."
  }

  # --- autoscaling ---

  assert {
    condition     = aws_appautoscaling_target.gateway.min_capacity == 2 && aws_appautoscaling_target.gateway.max_capacity == 4
    error_message = "The gateway scales between gateway.min and gateway.max."
  }

  assert {
    condition     = aws_appautoscaling_policy.gateway_cpu.target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ECSServiceAverageCPUUtilization"
    error_message = "One policy tracks the service's average CPU."
  }

  assert {
    condition = (
      aws_appautoscaling_policy.gateway_connections.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].metric_name == "gateway_connections" &&
      aws_appautoscaling_policy.gateway_connections.target_tracking_scaling_policy_configuration[0].customized_metric_specification[0].namespace == "Chat/chat-test" &&
      aws_appautoscaling_policy.gateway_connections.target_tracking_scaling_policy_configuration[0].target_value == 20000
    )
    error_message = "The other tracks gateway_connections per task."
  }

  # --- projectors and init ---

  assert {
    condition     = toset(keys(aws_ecs_service.projector)) == toset(["history", "fanout", "presence", "notifications", "search"])
    error_message = "Without a webhook_url the webhook role is left out; search runs by default."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.projector["history"].container_definitions)[0].command == ["chat-projector", "--role", "history", "--port", "9181"]
    error_message = "Each projector service runs its own role on the ops port 9181."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.projector["fanout"].container_definitions)[0].healthCheck.command == ["CMD", "chat-projector", "healthcheck", "--port", "9181"]
    error_message = "Projector health check: `chat-projector healthcheck --port 9181`."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.init.container_definitions)[0].command == ["chatctl", "init"] && aws_ecs_task_definition.init.task_role_arn == aws_iam_role.task["init"].arn
    error_message = "The chatctl task runs `chatctl init` by default, with a task role of its own (the data-key KMS key admits it, for export)."
  }

  assert {
    condition     = length(aws_iam_role_policy.task) == length(aws_ecs_service.projector) + 1 && !contains(keys(aws_iam_role_policy.task), "init")
    error_message = "Only the tasks with a metrics sidecar get its IAM policy; the chatctl task's role holds none."
  }

  assert {
    condition     = !contains([for s in jsondecode(aws_ecs_task_definition.init.container_definitions)[0].secrets : s.name], "CHAT__REDIS__PASSWORD")
    error_message = "chatctl init does not talk to Redis and gets no Redis token."
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.workload : g.kms_key_id == aws_kms_key.this.arn && g.retention_in_days == 365])
    error_message = "Log groups are KMS-encrypted with a retention."
  }

  assert {
    condition     = aws_secretsmanager_secret.jwt.kms_key_id == aws_kms_key.this.arn
    error_message = "The JWT secret is encrypted with the module's key."
  }

  assert {
    condition     = output.webhook_secret_arn == null
    error_message = "No webhook secret without a webhook."
  }

  assert {
    condition = (
      output.gateway_admin_token_secret_arn == aws_secretsmanager_secret.admin_token[0].arn &&
      aws_secretsmanager_secret.admin_token[0].name == "chat-test/gateway/admin-token" &&
      aws_secretsmanager_secret.admin_token[0].kms_key_id == aws_kms_key.this.arn &&
      data.aws_secretsmanager_random_password.admin_token[0].password_length >= 48 &&
      aws_secretsmanager_secret_version.admin_token[0].secret_id == aws_secretsmanager_secret.admin_token[0].id
    )
    error_message = "The admin API is on by default: a generated token of at least 48 characters in a secret under the module's key, whose ARN is an output."
  }

  # --- search ---

  assert {
    condition     = aws_ecs_service.projector["search"].desired_count == 1 && aws_ecs_task_definition.projector["search"].cpu == "1024" && aws_ecs_task_definition.projector["search"].memory == "2048"
    error_message = "One search task by default, 1 vCPU and 2 GiB."
  }

  assert {
    condition     = one([for c in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions) : c.command if c.name == "projector"]) == ["chat-projector", "--role", "search", "--port", "9181"]
    error_message = "The search service runs the projector image's search role on the ops port 9181."
  }

  assert {
    condition     = one([for c in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions) : c.healthCheck.command if c.name == "projector"]) == ["CMD", "chat-projector", "healthcheck", "--port", "9181"]
    error_message = "The search role has the projectors' health check."
  }

  assert {
    condition = (
      aws_ecs_task_definition.projector["search"].ephemeral_storage[0].size_in_gib == 50 &&
      length(aws_ecs_task_definition.projector["history"].ephemeral_storage) == 0
    )
    error_message = "The search task gets 50 GiB of ephemeral storage by default; the other roles keep Fargate's default."
  }

  assert {
    condition = alltrue([
      for e in [
        { name = "CHAT__SEARCH__DIR", value = "/var/lib/chat-search" },
        { name = "CHAT__SEARCH__HOST", value = "0.0.0.0" },
        { name = "CHAT__SEARCH__PORT", value = "9110" },
      ] : contains(one([for c in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions) : c.environment if c.name == "projector"]), e)
    ])
    error_message = "The search role listens on the task's address, port 9110, with its index under /var/lib/chat-search."
  }

  assert {
    condition = (
      contains([for v in aws_ecs_task_definition.projector["search"].volume : v.name], "search-index") &&
      contains(one([for c in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions) : c.mountPoints if c.name == "projector"]), { sourceVolume = "search-index", containerPath = "/var/lib/chat-search", readOnly = false }) &&
      one([for c in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions) : c.readonlyRootFilesystem if c.name == "projector"]) == true
    )
    error_message = "The index directory is a task volume (on the ephemeral storage) mounted writable; the root filesystem stays read-only."
  }

  assert {
    condition = (
      one([for c in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions) : c.command if c.name == "search-index-owner"]) == ["chown", "10001:10001", "/var/lib/chat-search"] &&
      one([for c in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions) : c.essential if c.name == "search-index-owner"]) == false &&
      one([for c in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions) : c.dependsOn if c.name == "projector"]) == [{ containerName = "search-index-owner", condition = "SUCCESS" }]
    )
    error_message = "A short container hands the index directory to container_user, and the projector waits for it to succeed."
  }

  assert {
    condition     = length(jsondecode(aws_ecs_task_definition.projector["history"].container_definitions)) == 2
    error_message = "Only the search role has the index owner container."
  }

  assert {
    condition = (
      contains([for s in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions)[0].secrets : s.name], "CHAT__KAFKA__SASL__PASSWORD") &&
      contains([for s in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions)[0].secrets : s.name], "CHAT__CQL__PASSWORD") &&
      !contains([for s in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions)[0].secrets : s.name], "CHAT__REDIS__PASSWORD")
    )
    error_message = "The search role reads the log and the data keys in the CQL store: Kafka and CQL credentials, no Redis token."
  }

  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.search_from_gateway[0].security_group_id == aws_security_group.search[0].id &&
      aws_vpc_security_group_ingress_rule.search_from_gateway[0].referenced_security_group_id == aws_security_group.gateway.id &&
      aws_vpc_security_group_ingress_rule.search_from_gateway[0].from_port == 9110 &&
      aws_vpc_security_group_ingress_rule.search_from_gateway[0].to_port == 9110 &&
      aws_vpc_security_group_ingress_rule.search_from_gateway[0].ip_protocol == "tcp" &&
      aws_vpc_security_group_ingress_rule.search_from_gateway[0].cidr_ipv4 == null
    )
    error_message = "The search group admits TCP 9110 from the gateway group, and from no address range."
  }

  assert {
    condition     = toset(aws_ecs_service.projector["search"].network_configuration[0].security_groups) == toset([var.service_security_group_id, aws_security_group.search[0].id]) && !aws_ecs_service.projector["search"].network_configuration[0].assign_public_ip
    error_message = "Search tasks: the service group and the search group, no public IP."
  }

  assert {
    condition     = toset(aws_ecs_service.projector["history"].network_configuration[0].security_groups) == toset([var.service_security_group_id])
    error_message = "The other roles do not carry the search group."
  }

  assert {
    condition = (
      aws_service_discovery_service.search[0].name == "search" &&
      aws_service_discovery_service.search[0].dns_config[0].namespace_id == "ns-0123456789abcdef" &&
      aws_service_discovery_service.search[0].dns_config[0].dns_records[0].type == "A" &&
      aws_ecs_service.projector["search"].service_registries[0].registry_arn == aws_service_discovery_service.search[0].arn &&
      length(aws_ecs_service.projector["history"].service_registries) == 0
    )
    error_message = "The search service registers A records as search.<namespace> in Cloud Map."
  }

  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment, { name = "CHAT__GATEWAY__SEARCH_URLS", value = "http://search.chat-test.internal:9110" })
    error_message = "The gateways call the search service by its private name on 9110."
  }

  assert {
    condition     = output.search_url == "http://search.chat-test.internal:9110" && output.search_ephemeral_storage_gib == 50
    error_message = "The search URL and disk are outputs."
  }

  assert {
    condition = strcontains(one([
      for e in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions)[1].environment : e.value if e.name == "PROMETHEUS_CONFIG_CONTENT"
    ]), "search_index_bytes")
    error_message = "The search task's sidecar keeps search_index_bytes (the index against its disk)."
  }
}

# --- The gateways' admin API: its token, and who gets it ---------------------------------

run "admin_api_token_to_the_gateway_only" {
  command = apply

  # An ARN of its own, so the checks below cannot pass on the JWT secret's (the mock
  # gives every generated secret the same one).
  override_resource {
    target = aws_secretsmanager_secret.admin_token
    values = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/gateway/admin-token-XyZ123" }
  }

  assert {
    condition = contains(
      jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].secrets,
      { name = "CHAT__GATEWAY__ADMIN_TOKEN", valueFrom = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/gateway/admin-token-XyZ123" }
    )
    error_message = "The gateway gets the admin token from Secrets Manager (the whole secret string) as CHAT__GATEWAY__ADMIN_TOKEN."
  }

  assert {
    condition     = !contains([for e in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment : e.name], "CHAT__GATEWAY__ADMIN_TOKEN")
    error_message = "The admin token is never a plain environment value."
  }

  assert {
    condition = alltrue([
      for td in concat(values(aws_ecs_task_definition.projector), [aws_ecs_task_definition.init]) :
      alltrue([for c in jsondecode(td.container_definitions) : !contains([for s in try(c.secrets, []) : s.name], "CHAT__GATEWAY__ADMIN_TOKEN")])
    ])
    error_message = "Only the gateway gets the admin token: no projector role, not the chatctl task."
  }

  assert {
    condition = (
      contains(data.aws_iam_policy_document.execution["gateway"].statement[3].resources, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/gateway/admin-token-XyZ123") &&
      alltrue([
        for w, d in data.aws_iam_policy_document.execution :
        !contains(d.statement[3].resources, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/gateway/admin-token-XyZ123") if w != "gateway"
      ])
    )
    error_message = "Only the gateway's execution role may read the admin token."
  }

  assert {
    condition     = output.gateway_admin_token_secret_arn == "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/gateway/admin-token-XyZ123"
    error_message = "The admin token's ARN (not its value) is an output."
  }
}

run "admin_api_off" {
  command = apply

  variables {
    admin_api_enabled = false
  }

  assert {
    condition = (
      length(aws_secretsmanager_secret.admin_token) == 0 &&
      length(aws_secretsmanager_secret_version.admin_token) == 0 &&
      output.gateway_admin_token_secret_arn == null &&
      !contains([for s in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].secrets : s.name], "CHAT__GATEWAY__ADMIN_TOKEN") &&
      contains([for s in jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].secrets : s.name], "CHAT__GATEWAY__JWT_SECRET")
    )
    error_message = "With admin_api_enabled false there is no token and the gateway gets none (its admin API answers 404)."
  }
}

run "search_disk_sized" {
  command = apply

  variables {
    search_ephemeral_storage_gib = 120
  }

  assert {
    condition     = aws_ecs_task_definition.projector["search"].ephemeral_storage[0].size_in_gib == 120
    error_message = "search_ephemeral_storage_gib sizes the search task's disk."
  }
}

run "without_search" {
  command = apply

  variables {
    projectors = {
      history = { cpu = 512, memory = 1024, desired = 2 }
    }
    service_discovery_namespace = null
  }

  assert {
    condition = (
      length(aws_security_group.search) == 0 && length(aws_service_discovery_service.search) == 0 &&
      contains(jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment, { name = "CHAT__GATEWAY__SEARCH_URLS", value = "" })
    )
    error_message = "Without the search role: no search group or name, and the gateways' search is off (empty URLs, 503) rather than pointed at 127.0.0.1."
  }
}

run "search_needs_a_namespace" {
  command = plan

  variables {
    service_discovery_namespace = null
  }

  expect_failures = [aws_ecs_service.projector["search"]]
}

run "search_runs_one_task" {
  command = plan

  variables {
    projectors = {
      search = { cpu = 1024, memory = 2048, desired = 2 }
    }
  }

  expect_failures = [var.projectors]
}

run "search_disk_within_fargate_range" {
  command = plan

  variables {
    search_ephemeral_storage_gib = 20
  }

  expect_failures = [var.search_ephemeral_storage_gib]
}

run "webhook_and_x86" {
  command = apply

  variables {
    webhook_url      = "https://push.example.com/hook"
    cpu_architecture = "X86_64"
  }

  assert {
    condition     = contains(keys(aws_ecs_service.projector), "webhook")
    error_message = "With a webhook_url the webhook role runs."
  }

  assert {
    condition = contains(
      jsondecode(aws_ecs_task_definition.projector["webhook"].container_definitions)[0].environment,
      { name = "CHAT__WEBHOOK__URL", value = "https://push.example.com/hook" }
    )
    error_message = "The webhook role gets CHAT__WEBHOOK__URL."
  }

  assert {
    condition = (
      contains([for s in jsondecode(aws_ecs_task_definition.projector["webhook"].container_definitions)[0].secrets : s.name], "CHAT__WEBHOOK__SECRET")
    )
    error_message = "The webhook role gets its HMAC key."
  }

  assert {
    condition     = aws_ecs_task_definition.gateway.runtime_platform[0].cpu_architecture == "X86_64"
    error_message = "cpu_architecture switches the tasks to X86_64."
  }

  # The webhook role opens sealed previews: the data keys in the CQL store, and KMS.
  assert {
    condition = (
      contains(jsondecode(aws_ecs_task_definition.projector["webhook"].container_definitions)[0].environment, { name = "CQL_NODES", value = "10.40.20.10:9042,10.40.21.10:9042,10.40.22.10:9042" }) &&
      contains(jsondecode(aws_ecs_task_definition.projector["webhook"].container_definitions)[0].environment, { name = "CHAT__CQL__TLS__ENABLED", value = "true" }) &&
      length(setsubtract(["CHAT__CQL__USERNAME", "CHAT__CQL__PASSWORD", "CHAT__CQL__TLS__CA_PEM"], [for s in jsondecode(aws_ecs_task_definition.projector["webhook"].container_definitions)[0].secrets : s.name])) == 0 &&
      !contains([for s in jsondecode(aws_ecs_task_definition.projector["webhook"].container_definitions)[0].secrets : s.name], "CHAT__REDIS__PASSWORD") &&
      contains(aws_ecs_service.projector["webhook"].network_configuration[0].security_groups, var.service_security_group_id)
    )
    error_message = "The webhook role reaches the CQL store (the service group, which the CQL nodes admit on 9042/19042, its nodes, TLS, credentials and CA) and not Redis."
  }

  assert {
    condition     = contains(output.data_key_kms_users.decrypt, "chat-test-projector-webhook-task") && !contains(output.data_key_kms_users.encrypt_decrypt, "chat-test-projector-webhook-task")
    error_message = "The webhook role may unwrap data keys, not wrap new ones."
  }
}

# --- Crypto-shredding: the data-key KMS key, the settings, retention -----------------------

run "data_key_kek" {
  command = apply

  assert {
    condition = (
      aws_kms_key.data_keys.enable_key_rotation &&
      aws_kms_key.data_keys.deletion_window_in_days == 30 &&
      aws_kms_key.data_keys.customer_master_key_spec == "SYMMETRIC_DEFAULT" &&
      aws_kms_key.data_keys.key_usage == "ENCRYPT_DECRYPT" &&
      aws_kms_alias.data_keys.name == "alias/chat-test-chat-data-keys" &&
      aws_kms_alias.data_keys.target_key_id == aws_kms_key.data_keys.key_id
    )
    error_message = "A symmetric key with rotation on and a 30-day deletion window, aliased alias/<name>-chat-data-keys."
  }

  # Every statement that allows Encrypt or Decrypt requires the data-key context.
  assert {
    condition = alltrue([
      for st in data.aws_iam_policy_document.data_keys.statement :
      length(st.condition) == 1 && alltrue([
        for c in st.condition :
        c.test == "StringEquals" && c.variable == "kms:EncryptionContext:purpose" && toset(c.values) == toset(["chat-data-key"])
      ])
      if length(setintersection(st.actions, ["kms:Encrypt", "kms:Decrypt", "kms:*"])) > 0
    ])
    error_message = "kms:Encrypt and kms:Decrypt are allowed only with kms:EncryptionContext:purpose = chat-data-key."
  }

  assert {
    condition = (
      toset(one([for st in data.aws_iam_policy_document.data_keys.statement : st.actions if st.sid == "SealersWrapAndUnwrapDataKeys"])) == toset(["kms:Encrypt", "kms:Decrypt"]) &&
      toset(one([for st in data.aws_iam_policy_document.data_keys.statement : st.actions if st.sid == "OpenersUnwrapDataKeys"])) == toset(["kms:Decrypt"])
    )
    error_message = "The sealers may Encrypt and Decrypt; the openers Decrypt only."
  }

  # The account administers the key but cannot use it: no IAM policy can grant use.
  assert {
    condition = (
      toset(one([for st in data.aws_iam_policy_document.data_keys.statement : one([for p in st.principals : p.identifiers]) if st.sid == "AccountAdministersTheKeyButCannotUseIt"])) == toset(["arn:aws:iam::111122223333:root"]) &&
      length(setintersection(one([for st in data.aws_iam_policy_document.data_keys.statement : st.actions if st.sid == "AccountAdministersTheKeyButCannotUseIt"]), ["kms:*", "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"])) == 0 &&
      contains(one([for st in data.aws_iam_policy_document.data_keys.statement : st.actions if st.sid == "AccountAdministersTheKeyButCannotUseIt"]), "kms:Put*")
    )
    error_message = "The account root administers the key (PutKeyPolicy included) without kms:* or any use of it."
  }

  # Who: the defaults run no webhook; history and presence never open content.
  assert {
    condition = (
      toset(output.data_key_kms_users.encrypt_decrypt) == toset(["chat-test-gateway-task", "chat-test-projector-notifications-task"]) &&
      toset(output.data_key_kms_users.decrypt) == toset(["chat-test-projector-fanout-task", "chat-test-projector-search-task", "chat-test-init-task"])
    )
    error_message = "Gateway and notifications wrap and unwrap; fanout, search and the chatctl task unwrap; history and presence get nothing."
  }

  assert {
    condition = (
      length(one([for st in data.aws_iam_policy_document.data_keys.statement : st.principals if st.sid == "SealersWrapAndUnwrapDataKeys"])) == 1 &&
      length(one([for st in data.aws_iam_policy_document.data_keys.statement : st.principals if st.sid == "OpenersUnwrapDataKeys"])) == 1 &&
      alltrue([for st in data.aws_iam_policy_document.data_keys.statement : alltrue([for p in st.principals : p.type == "AWS"])])
    )
    error_message = "Only IAM principals are named: no service principal, no wildcard."
  }

  # The settings, in every process that seals or opens content.
  assert {
    condition = alltrue([
      for env in concat(
        [jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment],
        [jsondecode(aws_ecs_task_definition.init.container_definitions)[0].environment],
        [for role, td in aws_ecs_task_definition.projector : jsondecode(td.container_definitions)[0].environment],
      ) :
      length(setsubtract([
        { name = "CHAT__COMPLIANCE__KEK", value = "aws-kms" },
        { name = "CHAT__COMPLIANCE__KMS_KEY_ID", value = aws_kms_key.data_keys.arn },
        { name = "CHAT__COMPLIANCE__KMS_REGION", value = "eu-west-1" },
        { name = "CHAT__COMPLIANCE__KEY_PERIOD_DAYS", value = "30" },
        { name = "CHAT__COMPLIANCE__RETENTION_DAYS", value = "0" },
        { name = "CHAT__COMPLIANCE__KEY_CACHE_SECS", value = "60" },
        { name = "CHAT__COMPLIANCE__CONVERSATION_RETENTION_MIN_DAYS", value = "1" },
        { name = "CHAT__COMPLIANCE__CONVERSATION_RETENTION_MAX_DAYS", value = "0" },
      ], env)) == 0
    ])
    error_message = "The gateway, every projector role and the chatctl task get the aws-kms KEK, its key and region, the key period, the retention and the limits of a conversation's own retention."
  }

  assert {
    condition     = !anytrue([for defs in concat([aws_ecs_task_definition.gateway.container_definitions, aws_ecs_task_definition.init.container_definitions], [for td in aws_ecs_task_definition.projector : td.container_definitions]) : anytrue([for e in jsondecode(defs)[0].environment : e.name == "CHAT__COMPLIANCE__LOCAL_KEK"])])
    error_message = "No local key-encryption key anywhere."
  }

  assert {
    condition     = output.data_key_kms_key_arn == aws_kms_key.data_keys.arn && output.data_key_kms_alias == "alias/chat-test-chat-data-keys"
    error_message = "The key and its alias are outputs."
  }

  # The search role reaches the CQL store now (data keys), like every other role.
  assert {
    condition = (
      contains(jsondecode(aws_ecs_task_definition.projector["search"].container_definitions)[0].environment, { name = "CQL_NODES", value = "10.40.20.10:9042,10.40.21.10:9042,10.40.22.10:9042" }) &&
      contains(jsondecode(aws_ecs_task_definition.projector["search"].container_definitions)[0].environment, { name = "CHAT__CQL__LOCAL_DATACENTER", value = "eu-west-1" }) &&
      length(setsubtract(["CHAT__CQL__USERNAME", "CHAT__CQL__PASSWORD", "CHAT__CQL__TLS__CA_PEM"], [for s in jsondecode(aws_ecs_task_definition.projector["search"].container_definitions)[0].secrets : s.name])) == 0 &&
      contains(aws_ecs_service.projector["search"].network_configuration[0].security_groups, var.service_security_group_id) &&
      alltrue([for role, svc in aws_ecs_service.projector : contains(svc.network_configuration[0].security_groups, var.service_security_group_id)])
    )
    error_message = "Search tasks carry the service group (which the CQL nodes admit on 9042/19042) and get the nodes, TLS, credentials and CA."
  }

  assert {
    condition     = contains(data.aws_iam_policy_document.execution["projector-search"].statement[3].resources, "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/cql-credentials-AbCdEf")
    error_message = "The search role's execution role may read the CQL credentials it injects."
  }

  # The platform keeps content forever by default, but a group admin may set their
  # conversation's own retention (v1.3), which only the daily task applies: it is
  # scheduled anyway.
  assert {
    condition = (
      length(aws_cloudwatch_event_rule.retention) == 1 &&
      length(aws_cloudwatch_event_target.retention) == 1 &&
      length(aws_iam_role.retention) == 1 &&
      output.retention_rule_name == "chat-test-chatctl-retention" &&
      strcontains(aws_cloudwatch_event_rule.retention[0].description, "no platform retention")
    )
    error_message = "With retention_days 0 and conversation retention on (the defaults), the daily retention task is scheduled."
  }
}

run "no_retention_task" {
  command = apply

  variables {
    compliance = {
      retention_days                 = 0
      conversation_retention_enabled = false
    }
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.retention) == 0 && length(aws_cloudwatch_event_target.retention) == 0 && length(aws_iam_role.retention) == 0 && output.retention_rule_name == null
    error_message = "With retention_days 0 (keep forever) and no conversation retention there is no retention task."
  }
}

run "conversation_retention_limits" {
  command = apply

  variables {
    compliance = {
      conversation_retention_min_days = 7
      conversation_retention_max_days = 365
    }
  }

  assert {
    condition = alltrue([
      for env in concat(
        [jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment],
        [jsondecode(aws_ecs_task_definition.init.container_definitions)[0].environment],
        [for role, td in aws_ecs_task_definition.projector : jsondecode(td.container_definitions)[0].environment],
      ) :
      contains(env, { name = "CHAT__COMPLIANCE__CONVERSATION_RETENTION_MIN_DAYS", value = "7" }) &&
      contains(env, { name = "CHAT__COMPLIANCE__CONVERSATION_RETENTION_MAX_DAYS", value = "365" })
    ])
    error_message = "The limits of a conversation's own retention reach the gateway (which enforces them), every projector role and the chatctl task."
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.retention) == 1 && jsondecode(aws_cloudwatch_event_target.retention[0].input).containerOverrides[0].command == ["chatctl", "retention", "apply"]
    error_message = "Conversation retention alone schedules `chatctl retention apply`."
  }
}

run "retention_scheduled" {
  command = apply

  variables {
    compliance = {
      key_period_days = 7
      retention_days  = 365
    }
  }

  assert {
    condition = (
      length(aws_cloudwatch_event_rule.retention) == 1 &&
      aws_cloudwatch_event_rule.retention[0].name == "chat-test-chatctl-retention" &&
      aws_cloudwatch_event_rule.retention[0].schedule_expression == "cron(15 3 * * ? *)" &&
      output.retention_rule_name == "chat-test-chatctl-retention" &&
      strcontains(aws_cloudwatch_event_rule.retention[0].description, "content older than 365 days")
    )
    error_message = "retention_days > 0 schedules a daily task."
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.retention[0].arn == aws_ecs_cluster.this.arn &&
      aws_cloudwatch_event_target.retention[0].role_arn == aws_iam_role.retention[0].arn &&
      aws_cloudwatch_event_target.retention[0].ecs_target[0].task_definition_arn == aws_ecs_task_definition.init.arn &&
      aws_cloudwatch_event_target.retention[0].ecs_target[0].launch_type == "FARGATE" &&
      aws_cloudwatch_event_target.retention[0].ecs_target[0].task_count == 1 &&
      toset(aws_cloudwatch_event_target.retention[0].ecs_target[0].network_configuration[0].security_groups) == toset([var.service_security_group_id]) &&
      !aws_cloudwatch_event_target.retention[0].ecs_target[0].network_configuration[0].assign_public_ip
    )
    error_message = "It runs the chatctl task definition on Fargate in this cluster, in the service subnets with the service group, no public IP."
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_target.retention[0].input).containerOverrides[0].name == "chatctl" && jsondecode(aws_cloudwatch_event_target.retention[0].input).containerOverrides[0].command == ["chatctl", "retention", "apply"]
    error_message = "The scheduled task runs `chatctl retention apply`."
  }

  assert {
    condition = (
      contains(jsondecode(aws_ecs_task_definition.init.container_definitions)[0].environment, { name = "CHAT__COMPLIANCE__RETENTION_DAYS", value = "365" }) &&
      contains(jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment, { name = "CHAT__COMPLIANCE__KEY_PERIOD_DAYS", value = "7" })
    )
    error_message = "The retention and the key period reach the tasks."
  }

  # Least privilege: RunTask on the chatctl family in this cluster, PassRole of its two
  # roles to ECS, nothing else.
  assert {
    condition = (
      length(data.aws_iam_policy_document.retention[0].statement) == 2 &&
      toset(data.aws_iam_policy_document.retention[0].statement[0].actions) == toset(["ecs:RunTask"]) &&
      toset(data.aws_iam_policy_document.retention[0].statement[0].resources) == toset(["arn:aws:ecs:eu-west-1:111122223333:task-definition/chat-test-chatctl-init:*"]) &&
      toset(one([for c in data.aws_iam_policy_document.retention[0].statement[0].condition : c.values if c.variable == "ecs:cluster"])) == toset([aws_ecs_cluster.this.arn]) &&
      toset(data.aws_iam_policy_document.retention[0].statement[1].actions) == toset(["iam:PassRole"]) &&
      toset(data.aws_iam_policy_document.retention[0].statement[1].resources) == toset([aws_iam_role.execution["init"].arn, aws_iam_role.task["init"].arn]) &&
      toset(one([for c in data.aws_iam_policy_document.retention[0].statement[1].condition : c.values if c.variable == "iam:PassedToService"])) == toset(["ecs-tasks.amazonaws.com"])
    )
    error_message = "The rule's role may run the chatctl task in this cluster and pass its roles to ECS, nothing more."
  }

  assert {
    condition     = toset(one([for st in data.aws_iam_policy_document.retention_assume[0].statement : one([for p in st.principals : p.identifiers])])) == toset(["events.amazonaws.com"])
    error_message = "Only EventBridge assumes the rule's role."
  }
}

run "key_period_too_long" {
  command = plan

  variables {
    compliance = { key_period_days = 400 }
  }

  expect_failures = [var.compliance]
}

run "key_period_zero" {
  command = plan

  variables {
    compliance = { key_period_days = 0 }
  }

  expect_failures = [var.compliance]
}

run "retention_shorter_than_a_key_period" {
  command = plan

  variables {
    compliance = { key_period_days = 30, retention_days = 10 }
  }

  expect_failures = [var.compliance]
}

run "conversation_retention_min_zero" {
  command = plan

  variables {
    compliance = { conversation_retention_min_days = 0 }
  }

  expect_failures = [var.compliance]
}

run "conversation_retention_max_below_min" {
  command = plan

  variables {
    compliance = { conversation_retention_min_days = 30, conversation_retention_max_days = 7 }
  }

  expect_failures = [var.compliance]
}

run "conversation_retention_fractional_days" {
  command = plan

  variables {
    compliance = { conversation_retention_max_days = 1.5 }
  }

  expect_failures = [var.compliance]
}

run "attachments_bucket_for_the_gateway" {
  command = apply

  variables {
    attachments = { bucket = "chat-test-attachments-111122223333", region = "eu-west-1" }
  }

  assert {
    condition = (
      contains(jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment, { name = "CHAT__GATEWAY__ATTACHMENTS__BUCKET", value = "chat-test-attachments-111122223333" }) &&
      contains(jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment, { name = "CHAT__GATEWAY__ATTACHMENTS__REGION", value = "eu-west-1" }) &&
      contains(jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment, { name = "CHAT__GATEWAY__ATTACHMENTS__ENDPOINT", value = "https://s3.eu-west-1.amazonaws.com" }) &&
      contains(jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment, { name = "CHAT__GATEWAY__ATTACHMENTS__URL_STYLE", value = "virtual_host" })
    )
    error_message = "The gateway gets the attachments bucket, its region and the region's S3 endpoint with virtual-host URLs."
  }

  assert {
    condition = !anytrue([
      for d in concat(
        jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].environment,
        jsondecode(aws_ecs_task_definition.gateway.container_definitions)[0].secrets,
      ) : can(regex("^CHAT__GATEWAY__ATTACHMENTS__(ACCESS_KEY_ID|SECRET_ACCESS_KEY)$", d.name))
    ])
    error_message = "No access keys: the gateway signs with its task role's credentials."
  }

  assert {
    condition = alltrue([
      for role, td in aws_ecs_task_definition.projector :
      !anytrue([for e in jsondecode(td.container_definitions)[0].environment : startswith(e.name, "CHAT__GATEWAY__ATTACHMENTS__")])
    ])
    error_message = "Only the gateway presigns: the projectors get no attachments settings."
  }

  assert {
    condition     = output.gateway_task_role_name == "chat-test-gateway-task"
    error_message = "The gateway's task role is an output, for the attachments module's grant."
  }
}

run "projector_tasks_bounded_by_partitions" {
  command = plan

  variables {
    kafka_partitions = 12
    projectors = {
      history = { cpu = 512, memory = 1024, desired = 13 }
    }
  }

  expect_failures = [aws_ecs_service.projector["history"]]
}

run "rejects_latest_tag" {
  command = plan

  variables {
    image_tag = "latest"
  }

  expect_failures = [var.image_tag]
}

run "rejects_plain_redis" {
  command = plan

  variables {
    redis_url = "redis://example:6379"
  }

  expect_failures = [var.redis_url]
}
