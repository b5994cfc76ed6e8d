# The staging environment with its real modules (all but the network), planned
# against the mocked provider: every module's inputs as this environment wires them,
# every precondition and validation of every module. What each module builds is
# asserted by its own tests, and the wiring by staging.tftest.hcl; this one catches a
# required input the environment forgets to pass.

mock_provider "aws" {
  mock_resource "aws_msk_cluster" {
    defaults = {
      arn                          = "arn:aws:kafka:eu-west-1:111122223333:cluster/chat-staging/11111111-2222-3333-4444-555555555555-2"
      bootstrap_brokers_sasl_scram = "b-1.chatstaging.abc123.c2.kafka.eu-west-1.amazonaws.com:9096"
    }
  }
  mock_resource "aws_msk_configuration" {
    defaults = { arn = "arn:aws:kafka:eu-west-1:111122223333:configuration/chat-staging/11111111-2222-3333-4444-555555555555-1" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
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
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-staging/generated-AbCdEf" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:111122223333:repository/chat-staging/image"
      repository_url = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/chat-staging/image"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/chat-staging/any" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/chat-staging-role" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/chat-staging:1" }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/chat-staging-gateway/0123456789abcdef"
      arn_suffix = "targetgroup/chat-staging-gateway/0123456789abcdef"
    }
  }
  mock_resource "aws_service_discovery_service" {
    defaults = { arn = "arn:aws:servicediscovery:eu-west-1:111122223333:service/srv-0123456789abcdef" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:111122223333:chat-staging-alarms" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:chat-staging-any" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:cluster/chat-staging" }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/chat-staging-nlb/0123456789abcdef"
      arn_suffix = "net/chat-staging-nlb/0123456789abcdef"
      dns_name   = "chat-staging-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com"
    }
  }
}

# The network is the one module replaced: a mocked plan gives its three subnets one
# made-up id, which the other modules rightly refuse as not distinct.
override_module {
  target = module.network
  outputs = {
    vpc_id                    = "vpc-0123456789abcdef0"
    vpc_cidr_block            = "10.40.0.0/16"
    availability_zones        = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    public_subnet_ids         = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
    service_subnet_ids        = ["subnet-1000000000000000a", "subnet-1000000000000000b", "subnet-1000000000000000c"]
    data_subnet_ids           = ["subnet-2000000000000000a", "subnet-2000000000000000b", "subnet-2000000000000000c"]
    data_subnet_cidr_blocks   = ["10.40.64.0/24", "10.40.65.0/24", "10.40.66.0/24"]
    service_security_group_id = "sg-0123456789abcdef0"
  }
}

variables {
  region          = "eu-west-1"
  certificate_arn = "arn:aws:acm:eu-west-1:111122223333:certificate/11111111-2222-3333-4444-555555555555"
  image_tag       = "3f2c1ab"
  public_origin   = "https://chat-staging.example.com"

  cql_tls_ca_secret_arn      = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-staging/cql-tls-ca-AbCdEf"
  cql_tls_ca_certificate_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
}

run "every_module_plans_with_the_inputs_this_environment_gives" {
  command = plan

  assert {
    condition     = length(module.cql.contact_points) == 3
    error_message = "Three ScyllaDB nodes, one per AZ."
  }
}
