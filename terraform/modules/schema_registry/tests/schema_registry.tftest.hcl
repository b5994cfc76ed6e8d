# Apply against a mocked AWS provider: nothing is created. Run from the module
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

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/chat-test/schema-registry" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/chat-test-schema-registry-execution" }
  }
  mock_resource "aws_service_discovery_service" {
    defaults = { arn = "arn:aws:servicediscovery:eu-west-1:111122223333:service/srv-0123456789abcdef" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/chat-test-schema-registry:1" }
  }
}

variables {
  name                      = "chat-test"
  ecs_cluster_arn           = "arn:aws:ecs:eu-west-1:111122223333:cluster/chat-test"
  vpc_id                    = "vpc-0123456789abcdef0"
  subnet_ids                = ["subnet-1000000000000000a", "subnet-1000000000000000b", "subnet-1000000000000000c"]
  service_security_group_id = "sg-0123456789abcdef0"
  kafka_bootstrap_brokers   = "b-1.chat.kafka.eu-west-1.amazonaws.com:9096,b-2.chat.kafka.eu-west-1.amazonaws.com:9096"
  kafka_scram_secret_arn    = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:AmazonMSK_chat-test-AbCdEf"
}

run "defaults" {
  command = apply

  assert {
    condition     = output.url == "http://schema-registry.chat-test.internal:8080/apis/ccompat/v7"
    error_message = "The URL is the Cloud Map name, port 8080, the Confluent API base."
  }

  assert {
    condition     = aws_ecs_service.this.desired_count == 2 && aws_ecs_service.this.cluster == var.ecs_cluster_arn
    error_message = "Two registry tasks in the given cluster."
  }

  assert {
    condition     = !aws_ecs_service.this.network_configuration[0].assign_public_ip
    error_message = "The registry is internal only."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].image == "apicurio/apicurio-registry-kafkasql:2.6.13.Final"
    error_message = "Apicurio Registry 2.6 with kafkasql storage."
  }

  assert {
    condition = alltrue([
      for pair in [
        { name = "REGISTRY_KAFKA_COMMON_SECURITY_PROTOCOL", value = "SASL_SSL" },
        { name = "REGISTRY_KAFKA_COMMON_SASL_MECHANISM", value = "SCRAM-SHA-512" },
        { name = "REGISTRY_CCOMPAT_USE_CANONICAL_HASH", value = "true" },
        { name = "REGISTRY_PROPERTIES_PREFIX", value = "REGISTRY_" },
      ] : contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, pair)
    ])
    error_message = "SASL_SSL with SCRAM-SHA-512 and canonical hashes."
  }

  assert {
    condition = strcontains(one([
      for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value
      if e.name == "REGISTRY_KAFKA_COMMON_SASL_JAAS_CONFIG"
    ]), "ScramLoginModule required username=\"$${KAFKA_SCRAM_USERNAME}\"")
    error_message = "The JAAS line refers to the injected SCRAM username; it holds no credential itself."
  }

  assert {
    condition = contains(
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets,
      { name = "KAFKA_SCRAM_PASSWORD", valueFrom = "${var.kafka_scram_secret_arn}:password::" }
    )
    error_message = "The SCRAM password comes from the secret's JSON key."
  }

  assert {
    condition     = strcontains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command[1], "/health/ready")
    error_message = "The container health check is /health/ready."
  }

  assert {
    condition     = aws_service_discovery_private_dns_namespace.this.name == "chat-test.internal"
    error_message = "A private DNS namespace <name>.internal."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_services.referenced_security_group_id == var.service_security_group_id && aws_vpc_security_group_ingress_rule.from_services.from_port == 8080
    error_message = "Port 8080 only from the service security group."
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == aws_kms_key.logs.arn
    error_message = "The log group is KMS-encrypted."
  }
}
