# The composition of the production environment against a mocked AWS provider: nothing is
# created. The network, kafka, cql and redis modules are replaced by their contract
# outputs (override_module), so this checks the wiring and the sizes of this
# environment; each module's own tests check the module. Run from the environment
# directory: tofu init -backend=false && tofu test

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
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-production/generated-AbCdEf" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:111122223333:repository/chat-production/image"
      repository_url = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/chat-production/image"
    }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/chat-production/any" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/chat-production-role" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:task-definition/chat-production:1" }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/chat-production-gateway/0123456789abcdef"
      arn_suffix = "targetgroup/chat-production-gateway/0123456789abcdef"
    }
  }
  mock_resource "aws_service_discovery_service" {
    defaults = { arn = "arn:aws:servicediscovery:eu-west-1:111122223333:service/srv-0123456789abcdef" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:111122223333:chat-production-alarms" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:chat-production-any" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:111122223333:cluster/chat-production" }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/chat-production-nlb/0123456789abcdef"
      arn_suffix = "net/chat-production-nlb/0123456789abcdef"
      dns_name   = "chat-production-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com"
    }
  }
}

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

override_module {
  target = module.kafka
  outputs = {
    bootstrap_brokers_sasl_scram = "b-1.chatproduction.abc123.c2.kafka.eu-west-1.amazonaws.com:9096,b-2.chatproduction.abc123.c2.kafka.eu-west-1.amazonaws.com:9096"
    scram_secret_arn             = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:AmazonMSK_chat-production-AbCdEf"
    cluster_arn                  = "arn:aws:kafka:eu-west-1:111122223333:cluster/chat-production/11111111-2222-3333-4444-555555555555-2"
    kms_key_arn                  = "arn:aws:kms:eu-west-1:111122223333:key/22222222-3333-4444-5555-666666666666"
    security_group_id            = "sg-1111111111111111a"
  }
}

override_module {
  target = module.cql
  outputs = {
    contact_points            = ["10.40.20.10:9042", "10.40.21.10:9042", "10.40.22.10:9042"]
    local_datacenter          = "eu-west-1"
    credentials_secret_arn    = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-production/cql-credentials-AbCdEf"
    ca_certificate_secret_arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-production/cql-ca-AbCdEf"
    security_group_id         = "sg-2222222222222222a"
  }
}

override_module {
  target = module.redis
  outputs = {
    primary_endpoint      = "master.chat-production.abc123.euw1.cache.amazonaws.com"
    reader_endpoint       = "replica.chat-production.abc123.euw1.cache.amazonaws.com"
    port                  = 6379
    url                   = "rediss://master.chat-production.abc123.euw1.cache.amazonaws.com:6379"
    auth_token_secret_arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-production/redis-auth-AbCdEf"
    security_group_id     = "sg-3333333333333333a"
  }
}

variables {
  region          = "eu-west-1"
  certificate_arn = "arn:aws:acm:eu-west-1:111122223333:certificate/11111111-2222-3333-4444-555555555555"
  image_tag       = "3f2c1ab"
  public_origin   = "https://chat.example.com"
}

run "composition" {
  command = apply

  assert {
    condition = (
      output.attachments_bucket_name == "chat-production-attachments-111122223333" &&
      module.attachments.region == "eu-west-1" && module.attachments.upload_prefix == "uploads/"
    )
    error_message = "The attachments bucket is named after the environment and the account, in the deployment's region."
  }

  assert {
    condition     = module.services.gateway_task_role_name == "chat-production-gateway-task"
    error_message = "The attachments grant goes to the gateways' task role."
  }

  assert {
    condition     = output.registry_url == "http://schema-registry.chat-production.internal:8080/apis/ccompat/v7"
    error_message = "The services get the registry's internal URL."
  }

  assert {
    condition     = output.ecs_cluster_name == "chat-production"
    error_message = "The cluster is named after the environment."
  }

  assert {
    condition     = output.load_balancer_dns_name == "chat-production-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com"
    error_message = "The load balancer's DNS name is an output."
  }

  assert {
    condition     = output.rollout_command == "terraform/scripts/rollout.sh terraform/environments/production"
    error_message = "The rollout command names this environment."
  }

  assert {
    condition = (
      output.sizing.kafka_broker_instance_type == "kafka.m7g.xlarge" && output.sizing.kafka_broker_count == 3 &&
      output.sizing.cql_instance_type == "i4i.2xlarge" &&
      output.sizing.redis_node_type == "cache.r7g.xlarge" && output.sizing.redis_replicas == 2
    )
    error_message = "Production data stores: kafka.m7g.xlarge x3, i4i.2xlarge x3, cache.r7g.xlarge with two replicas."
  }

  assert {
    condition = (
      output.sizing.gateway.min == 4 && output.sizing.gateway.max == 40 &&
      output.sizing.gateway.cpu == 2048 && output.sizing.gateway.memory == 4096
    )
    error_message = "Production gateways: 4 to 40 tasks of 2 vCPU / 4 GB."
  }

  assert {
    condition     = alltrue([for role, p in output.sizing.projectors : p.desired >= 2 && p.desired <= var.kafka_partitions if role != "search"])
    error_message = "Every production role but search runs at least two tasks and no more than the partitions."
  }

  assert {
    condition = (
      output.sizing.projectors.search.desired == 1 &&
      module.services.search_ephemeral_storage_gib == 100 &&
      module.services.search_url == "http://search.chat-production.internal:9110"
    )
    error_message = "Production search: one task (it holds the whole index) on 100 GiB, reached at search.chat-production.internal:9110."
  }

  assert {
    condition     = contains(module.observability.alarm_names, "chat-production-projector-search-lag")
    error_message = "The search role's lag is alarmed like every projector role's."
  }
}

run "six_brokers_and_a_webhook" {
  command = apply

  variables {
    kafka_brokers_per_az = 2
    webhook_url          = "https://push.example.com/chat-hook"
  }

  assert {
    condition     = output.sizing.kafka_broker_count == 6 && contains(module.observability.alarm_names, "chat-production-kafka-broker-6-disk")
    error_message = "Two brokers per AZ are six brokers, each watched."
  }

  assert {
    condition     = contains(keys(module.services.projector_service_names), "webhook") && output.webhook_secret_arn != null
    error_message = "With a webhook_url the webhook role runs and its HMAC key is generated."
  }
}

run "rejects_three_brokers_per_az" {
  command = plan

  variables {
    kafka_brokers_per_az = 3
  }

  expect_failures = [var.kafka_brokers_per_az]
}

run "crypto_shredding" {
  command = apply

  assert {
    condition = (
      output.data_key_kms_alias == "alias/chat-production-chat-data-keys" &&
      output.data_key_kms_key_arn == "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555"
    )
    error_message = "The services module's data-key KMS key and alias are the environment's outputs."
  }

  # Content is kept forever by default, but group admins may set their conversation's
  # own retention (v1.3), which only the daily task applies.
  assert {
    condition     = output.retention_rule_name == "chat-production-chatctl-retention"
    error_message = "Conversations may set their own retention by default: the daily `chatctl retention apply` is scheduled."
  }

  assert {
    condition     = contains(module.services.data_key_kms_users.decrypt, "chat-production-projector-search-task") && contains(module.services.data_key_kms_users.encrypt_decrypt, "chat-production-gateway-task")
    error_message = "The gateways seal; the search role opens."
  }

  assert {
    condition     = output.gateway_admin_token_secret_arn == module.services.gateway_admin_token_secret_arn && output.gateway_admin_token_secret_arn != null
    error_message = "The admin API is on by default: its token's secret ARN is an output (the services module's tests check the gateways get it)."
  }
}

run "admin_api_off" {
  command = apply

  variables {
    admin_api_enabled = false
  }

  assert {
    condition     = output.gateway_admin_token_secret_arn == null
    error_message = "admin_api_enabled = false makes no admin token."
  }
}

run "retention_scheduled" {
  command = apply

  variables {
    compliance_retention_days  = 365
    compliance_key_period_days = 30
  }

  assert {
    condition     = output.retention_rule_name == "chat-production-chatctl-retention"
    error_message = "compliance_retention_days above 0 schedules `chatctl retention apply`."
  }
}

run "retention_scheduled_without_conversation_retention" {
  command = apply

  variables {
    compliance_retention_days                 = 365
    compliance_conversation_retention_enabled = false
  }

  assert {
    condition     = output.retention_rule_name == "chat-production-chatctl-retention"
    error_message = "compliance_retention_days above 0 schedules `chatctl retention apply` whatever conversations may do."
  }
}

run "no_retention_at_all" {
  command = apply

  variables {
    compliance_retention_days                 = 0
    compliance_conversation_retention_enabled = false
  }

  assert {
    condition     = output.retention_rule_name == null
    error_message = "No platform retention and no conversation retention: no retention task."
  }
}

run "rejects_a_plain_http_origin" {
  command = plan

  variables {
    public_origin = "http://chat.example.com"
  }

  expect_failures = [var.public_origin]
}
