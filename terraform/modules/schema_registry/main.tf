# Apicurio Registry 2.6 with Kafka ("kafkasql") storage on ECS Fargate, reachable only
# inside the VPC, serving the Confluent Schema Registry API under /apis/ccompat/v7.
#
# Discovery: a Cloud Map private DNS namespace ("<name>.internal") with an A record per
# healthy task. Chosen over ECS Service Connect because `chatctl init`, which registers
# the schemas, runs as a standalone task (`aws ecs run-task`), and Service Connect names
# resolve only inside ECS services that join the namespace; plain DNS works for every
# task, and for an operator's shell in the VPC. Chosen over an internal load balancer
# because two tasks need no balancing beyond DNS multivalue answers, and it costs
# nothing. Clients resolve again on failure; the TTL is 10 s.
#
# Kafka: SASL/SCRAM over TLS (SASL_SSL) to MSK. Apicurio 2.x passes every
# `registry.kafka.common.*` property to its producer, consumer and admin client, and with
# REGISTRY_PROPERTIES_PREFIX=REGISTRY_ every REGISTRY_* variable becomes such a property
# (REGISTRY_KAFKA_COMMON_SASL_JAAS_CONFIG -> registry.kafka.common.sasl.jaas.config), as
# Apicurio's own operator configures SCRAM. ECS cannot compose a variable from a secret,
# so the JAAS line refers to the two injected secret variables through property
# expressions (${KAFKA_SCRAM_USERNAME}), which Quarkus expands when the value is read.
# The brokers' certificates chain to Amazon's public roots, which the JVM trusts, so no
# truststore is configured.

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  port             = 8080
  service_name     = "${var.name}-schema-registry"
  dns_service_name = "schema-registry"
  namespace_name   = "${var.name}.internal"
  tmp_volume       = "tmp"

  environment = {
    KAFKA_BOOTSTRAP_SERVERS = var.kafka_bootstrap_brokers
    REGISTRY_KAFKASQL_TOPIC = var.journal_topic

    REGISTRY_PROPERTIES_PREFIX              = "REGISTRY_"
    REGISTRY_KAFKA_COMMON_SECURITY_PROTOCOL = "SASL_SSL"
    REGISTRY_KAFKA_COMMON_SASL_MECHANISM    = var.kafka_sasl_mechanism
    REGISTRY_KAFKA_COMMON_SASL_JAAS_CONFIG  = "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$${KAFKA_SCRAM_USERNAME}\" password=\"$${KAFKA_SCRAM_PASSWORD}\";"

    # As the local setup runs it: re-registering a schema that differs only in
    # formatting returns the existing id (Confluent's behaviour), not a new version.
    REGISTRY_CCOMPAT_USE_CANONICAL_HASH = "true"

    LOG_LEVEL = "INFO"
  }

  secrets = [
    { name = "KAFKA_SCRAM_USERNAME", valueFrom = "${var.kafka_scram_secret_arn}:username::" },
    { name = "KAFKA_SCRAM_PASSWORD", valueFrom = "${var.kafka_scram_secret_arn}:password::" },
  ]
}

# --- KMS key and logs ----------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is this key only; the account root statement is the standard delegation to IAM policies.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is this key only.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is this key only.
  statement {
    sid       = "AccountAdministersTheKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsTheRegistryLogGroup"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/ecs/${var.name}/schema-registry"]
    }
  }
}

resource "aws_kms_key" "logs" {
  description             = "${var.name}: schema registry logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days, 365 by default (production); staging chooses a shorter one on purpose.
  name              = "/ecs/${var.name}/schema-registry"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.logs.arn
  tags              = var.tags
}

# --- IAM: execution role only (the registry calls no AWS API, so no task role) ------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

data "aws_iam_policy_document" "execution" {
  #checkov:skip=CKV_AWS_356:kms:Decrypt on "*" (only when secrets_kms_key_arns is empty) is limited by kms:ViaService and kms:EncryptionContext:SecretARN to the SCRAM secret.
  statement {
    sid       = "WriteOwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [aws_cloudwatch_log_group.this.arn, "${aws_cloudwatch_log_group.this.arn}:*"]
  }

  statement {
    sid       = "ReadTheScramSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.kafka_scram_secret_arn]
  }

  statement {
    sid       = "DecryptTheScramSecretThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = length(var.secrets_kms_key_arns) > 0 ? var.secrets_kms_key_arns : ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:SecretARN"
      values   = [var.kafka_scram_secret_arn]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-schema-registry-execution"
  description        = "ECS execution role of the schema registry: write its logs, read the SCRAM secret"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "logs-secrets"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- Network -------------------------------------------------------------------------------

resource "aws_security_group" "this" {
  name        = "${var.name}-schema-registry"
  description = "Schema registry tasks: HTTP 8080 from the deployment's tasks only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-schema-registry" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "from_services" {
  security_group_id            = aws_security_group.this.id
  description                  = "Registry API from the deployment's ECS tasks"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = var.service_security_group_id
  tags                         = var.tags
}

resource "aws_service_discovery_private_dns_namespace" "this" {
  name        = local.namespace_name
  description = "${var.name}: internal names of the chat platform's services"
  vpc         = var.vpc_id
  tags        = var.tags
}

resource "aws_service_discovery_service" "this" {
  name = local.dns_service_name

  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.this.id
    routing_policy = "MULTIVALUE"

    dns_records {
      type = "A"
      ttl  = 10
    }
  }

  # ECS reports each task's container health check to Cloud Map, so a task that fails
  # /health/ready leaves the DNS answers.
  # (failure_threshold is always 1 for ECS; stated so the plan matches what AWS returns.)
  health_check_custom_config {
    failure_threshold = 1
  }

  tags = var.tags
}

# --- Task and service ----------------------------------------------------------------------

resource "aws_ecs_task_definition" "this" {
  family                   = local.service_name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = local.tmp_volume
  }

  container_definitions = jsonencode([
    {
      name      = "registry"
      image     = var.image
      essential = true
      user      = var.container_user

      readonlyRootFilesystem = var.read_only_root_filesystem
      privileged             = false
      mountPoints            = [{ sourceVolume = local.tmp_volume, containerPath = "/tmp", readOnly = false }]

      portMappings = [{ name = "http", containerPort = local.port, protocol = "tcp" }]

      environment = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
      secrets     = local.secrets

      healthCheck = {
        command     = ["CMD-SHELL", var.health_check_command]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 120 # JVM start and a replay of the journal
      }

      stopTimeout = 30

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "registry"
        }
      }
    },
  ])

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  name                    = local.service_name
  cluster                 = var.ecs_cluster_arn
  task_definition         = aws_ecs_task_definition.this.arn
  desired_count           = var.desired_count
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true

  # One new task before an old one stops: the registry is never down to zero.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.service_security_group_id, aws_security_group.this.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.this.arn
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.execution]
}
