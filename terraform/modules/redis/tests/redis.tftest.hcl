# Plan-only tests with a mocked AWS provider: no credentials, nothing created.
# Run from the module directory: tofu init && tofu test

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
      name = "eu-west-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition  = "aws"
      dns_suffix = "amazonaws.com"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "111122223333"
      arn        = "arn:aws:iam::111122223333:user/test"
      user_id    = "AIDATEST"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"}}]}"
    }
  }

  mock_data "aws_secretsmanager_random_password" {
    defaults = {
      random_password = "mocktokenmocktokenmocktokenmocktokenmocktokenmocktokenmocktokenm"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000d"
      key_id = "00000000-0000-0000-0000-00000000000d"
    }
  }

  mock_resource "aws_secretsmanager_secret" {
    defaults = {
      arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/redis/auth-token-AbCdEf"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/elasticache/chat-test/slow-log"
    }
  }

  mock_resource "aws_elasticache_replication_group" {
    defaults = {
      arn                      = "arn:aws:elasticache:eu-west-1:111122223333:replicationgroup:chat-test"
      primary_endpoint_address = "master.chat-test.abcdef.euw1.cache.amazonaws.com"
      reader_endpoint_address  = "replica.chat-test.abcdef.euw1.cache.amazonaws.com"
    }
  }
}

variables {
  name                      = "chat-test"
  vpc_id                    = "vpc-0123456789abcdef0"
  subnet_ids                = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  availability_zones        = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  client_security_group_ids = ["sg-00000000000000051"]
}

run "multi_az_with_automatic_failover" {
  command = plan

  assert {
    condition     = aws_elasticache_replication_group.this.multi_az_enabled == true
    error_message = "Multi-AZ must be on."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.automatic_failover_enabled == true
    error_message = "Automatic failover must be on."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.num_cache_clusters == 3
    error_message = "Two replicas by default: three nodes."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.preferred_cache_cluster_azs == tolist(["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    error_message = "Given three zones, the three nodes must go one per zone."
  }
}

run "cluster_mode_disabled" {
  command = plan

  assert {
    condition     = aws_elasticache_replication_group.this.cluster_mode == "disabled"
    error_message = "Cluster mode must stay disabled: the services' pub/sub and multi-key scripts assume one keyspace."
  }
}

run "encrypted_in_transit_and_at_rest" {
  command = plan

  assert {
    condition     = aws_elasticache_replication_group.this.transit_encryption_enabled == true && aws_elasticache_replication_group.this.transit_encryption_mode == "required"
    error_message = "In-transit encryption must be on and required (no plaintext)."
  }

  assert {
    condition     = tostring(aws_elasticache_replication_group.this.at_rest_encryption_enabled) == "true"
    error_message = "At-rest encryption must be on."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.kms_key_id == aws_kms_key.this.arn && aws_kms_key.this.enable_key_rotation
    error_message = "At-rest encryption must use the module's rotating customer-managed key."
  }
}

run "auth_token_from_secrets_manager" {
  command = plan

  assert {
    condition     = aws_elasticache_replication_group.this.auth_token == aws_secretsmanager_secret_version.auth_token.secret_string
    error_message = "The AUTH token must be the one stored in Secrets Manager."
  }

  assert {
    condition     = length(aws_elasticache_replication_group.this.auth_token) >= 16
    error_message = "An AUTH token (at least 16 characters) must be set."
  }

  assert {
    condition     = aws_secretsmanager_secret.auth_token.kms_key_id == aws_kms_key.this.arn
    error_message = "The token's secret must be encrypted with the module's key."
  }

  assert {
    condition     = output.url == "rediss://master.chat-test.abcdef.euw1.cache.amazonaws.com:6379"
    error_message = "The URL must use rediss:// (TLS) on the primary endpoint, port 6379."
  }
}

run "slow_and_engine_logs_to_cloudwatch" {
  command = plan

  assert {
    condition     = toset([for c in aws_elasticache_replication_group.this.log_delivery_configuration : c.log_type if c.destination_type == "cloudwatch-logs"]) == toset(["slow-log", "engine-log"])
    error_message = "Both the slow log and the engine log must be delivered to CloudWatch Logs."
  }
}

run "only_the_services_reach_it" {
  command = plan

  assert {
    condition     = [for r in aws_vpc_security_group_ingress_rule.clients : [r.referenced_security_group_id, r.from_port, r.to_port]] == [["sg-00000000000000051", 6379, 6379]]
    error_message = "Only the client security groups may reach Redis, on 6379."
  }
}

run "rejects_no_replicas" {
  command = plan

  variables {
    replicas = 0
  }

  expect_failures = [var.replicas]
}
