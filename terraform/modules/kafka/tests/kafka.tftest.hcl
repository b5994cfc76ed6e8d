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
      random_password = "mockmockmockmockmockmockmockmockmockmockmockmock"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000a"
      key_id = "00000000-0000-0000-0000-00000000000a"
    }
  }

  mock_resource "aws_msk_configuration" {
    defaults = {
      arn             = "arn:aws:kafka:eu-west-1:111122223333:configuration/chat-test/00000000-0000-0000-0000-00000000000b-1"
      latest_revision = 1
    }
  }

  mock_resource "aws_msk_cluster" {
    defaults = {
      arn                          = "arn:aws:kafka:eu-west-1:111122223333:cluster/chat-test/00000000-0000-0000-0000-00000000000c-1"
      bootstrap_brokers_sasl_scram = "b-1.chattest.kafka.eu-west-1.amazonaws.com:9096,b-2.chattest.kafka.eu-west-1.amazonaws.com:9096,b-3.chattest.kafka.eu-west-1.amazonaws.com:9096"
    }
  }

  mock_resource "aws_secretsmanager_secret" {
    defaults = {
      arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:AmazonMSK_chat-test_chat-AbCdEf"
    }
  }
}

variables {
  name                      = "chat-test"
  vpc_id                    = "vpc-0123456789abcdef0"
  subnet_ids                = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  client_security_group_ids = ["sg-00000000000000051"]
}

run "encryption_in_transit_is_tls_only_inside_and_out" {
  command = plan

  assert {
    condition     = aws_msk_cluster.this.encryption_info[0].encryption_in_transit[0].client_broker == "TLS"
    error_message = "Clients must reach the brokers over TLS only (no plaintext listener)."
  }

  assert {
    condition     = aws_msk_cluster.this.encryption_info[0].encryption_in_transit[0].in_cluster == true
    error_message = "Traffic between brokers must be encrypted too."
  }
}

run "encryption_at_rest_with_the_modules_key" {
  command = plan

  assert {
    condition     = aws_msk_cluster.this.encryption_info[0].encryption_at_rest_kms_key_arn == aws_kms_key.this.arn
    error_message = "Data at rest must be encrypted with the module's customer-managed key."
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true
    error_message = "The key must rotate."
  }
}

run "sasl_scram_on_and_unauthenticated_off" {
  command = plan

  assert {
    condition     = aws_msk_cluster.this.client_authentication[0].sasl[0].scram == true
    error_message = "SASL/SCRAM must be on."
  }

  assert {
    condition     = aws_msk_cluster.this.client_authentication[0].sasl[0].iam == false
    error_message = "IAM authentication is not used by the services and must stay off."
  }

  assert {
    condition     = aws_msk_cluster.this.client_authentication[0].unauthenticated == false
    error_message = "Unauthenticated access must be off."
  }

  assert {
    condition     = startswith(aws_secretsmanager_secret.scram.name, "AmazonMSK_") && aws_secretsmanager_secret.scram.kms_key_id == aws_kms_key.this.arn
    error_message = "MSK only accepts SCRAM secrets named AmazonMSK_* and encrypted with a customer-managed key."
  }

  assert {
    condition     = length(aws_msk_scram_secret_association.this.secret_arn_list) == 1 && contains(aws_msk_scram_secret_association.this.secret_arn_list, aws_secretsmanager_secret.scram.arn)
    error_message = "The SCRAM secret must be associated with the cluster."
  }

  assert {
    condition     = [for r in aws_vpc_security_group_ingress_rule.clients_sasl_scram : [r.referenced_security_group_id, r.from_port, r.to_port]] == [["sg-00000000000000051", 9096, 9096]]
    error_message = "Clients may reach the brokers on 9096 (SASL/SCRAM over TLS) only."
  }
}

run "configuration_replication_3_min_isr_2_no_auto_create" {
  command = plan

  assert {
    condition = {
      for line in split("\n", aws_msk_configuration.this.server_properties) :
      trimspace(split("=", line)[0]) => trimspace(split("=", line)[1]) if length(split("=", line)) == 2
      } == {
      "auto.create.topics.enable"                = "false"
      "default.replication.factor"               = "3"
      "min.insync.replicas"                      = "2"
      "unclean.leader.election.enable"           = "false"
      "num.partitions"                           = "12"
      "offsets.topic.replication.factor"         = "3"
      "transaction.state.log.replication.factor" = "3"
      "transaction.state.log.min.isr"            = "2"
    }
    error_message = "The broker configuration must be: replication 3, min ISR 2, no auto-created topics, no unclean elections."
  }

  assert {
    condition     = aws_msk_cluster.this.configuration_info[0].arn == aws_msk_configuration.this.arn
    error_message = "The cluster must use the module's configuration."
  }

  assert {
    condition     = length(aws_msk_configuration.this.kafka_versions) == 1 && contains(aws_msk_configuration.this.kafka_versions, aws_msk_cluster.this.kafka_version)
    error_message = "The configuration must be valid for the cluster's Kafka version."
  }
}

run "three_brokers_by_default" {
  command = plan

  assert {
    condition     = aws_msk_cluster.this.number_of_broker_nodes == 3
    error_message = "One broker per zone by default."
  }
}

run "broker_count_is_a_multiple_of_three" {
  command = plan

  variables {
    brokers_per_az = 2
  }

  assert {
    condition     = aws_msk_cluster.this.number_of_broker_nodes == 6 && aws_msk_cluster.this.number_of_broker_nodes % 3 == 0
    error_message = "The broker count must be a multiple of three, spread evenly over the zones."
  }
}

run "broker_logs_go_to_cloudwatch" {
  command = plan

  assert {
    condition     = aws_msk_cluster.this.logging_info[0].broker_logs[0].cloudwatch_logs[0].enabled == true
    error_message = "Broker logs must be shipped to CloudWatch Logs."
  }

  assert {
    condition     = aws_msk_cluster.this.logging_info[0].broker_logs[0].cloudwatch_logs[0].log_group == aws_cloudwatch_log_group.broker.name
    error_message = "Broker logs must go to the module's log group."
  }

  assert {
    condition     = aws_cloudwatch_log_group.broker.kms_key_id == aws_kms_key.this.arn && aws_cloudwatch_log_group.broker.retention_in_days == 365
    error_message = "The broker log group must be encrypted and kept a year by default."
  }
}

run "monitoring_is_on" {
  command = plan

  assert {
    condition     = aws_msk_cluster.this.enhanced_monitoring == "PER_TOPIC_PER_PARTITION"
    error_message = "Per-partition metrics are needed to watch consumer lag per partition."
  }

  assert {
    condition     = aws_msk_cluster.this.open_monitoring[0].prometheus[0].jmx_exporter[0].enabled_in_broker && aws_msk_cluster.this.open_monitoring[0].prometheus[0].node_exporter[0].enabled_in_broker
    error_message = "Open monitoring (JMX and node exporters) must be on."
  }

  assert {
    condition     = aws_msk_cluster.this.broker_node_group_info[0].connectivity_info[0].public_access[0].type == "DISABLED"
    error_message = "Brokers must not be publicly accessible."
  }
}

run "storage_autoscaling_only_grows" {
  command = plan

  assert {
    condition     = length(aws_appautoscaling_policy.broker_storage) == 1 && aws_appautoscaling_policy.broker_storage[0].target_tracking_scaling_policy_configuration[0].disable_scale_in == true
    error_message = "Broker storage must auto-scale upwards by default."
  }
}

run "rejects_two_subnets" {
  command = plan

  variables {
    subnet_ids = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
  }

  expect_failures = [var.subnet_ids]
}

run "rejects_zero_brokers_per_zone" {
  command = plan

  variables {
    brokers_per_az = 0
  }

  expect_failures = [var.brokers_per_az]
}
