data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id

  broker_log_group_name = "/aws/msk/${var.name}/broker"
  broker_count          = 3 * var.brokers_per_az

  # Cluster defaults that make the log safe for an event-sourced system. Per-topic settings
  # (retention.ms=-1, partitions) are chatctl's job, not the cluster's.
  server_properties = {
    "auto.create.topics.enable"                = "false" # a typo'd topic name must fail, not create a topic with defaults
    "default.replication.factor"               = "3"     # one replica per zone
    "min.insync.replicas"                      = "2"     # acks=all survives one zone down
    "unclean.leader.election.enable"           = "false" # never elect a replica that is missing acknowledged writes
    "num.partitions"                           = "12"
    "offsets.topic.replication.factor"         = "3"
    "transaction.state.log.replication.factor" = "3"
    "transaction.state.log.min.isr"            = "2"
  }
}

resource "aws_msk_configuration" "this" {
  name              = var.name
  description       = "${var.name}: replication 3, min ISR 2, no auto-created topics"
  kafka_versions    = [var.kafka_version]
  server_properties = join("\n", [for k in sort(keys(local.server_properties)) : "${k}=${local.server_properties[k]}"])
}

resource "aws_cloudwatch_log_group" "broker" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (365 days by default, as production keeps it); staging chooses a shorter one on purpose, to save cost.
  name              = local.broker_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

resource "aws_msk_cluster" "this" {
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = local.broker_count
  enhanced_monitoring    = "PER_TOPIC_PER_PARTITION"

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = [aws_security_group.kafka.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.ebs_volume_gb
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = aws_kms_key.this.arn

    encryption_in_transit {
      client_broker = "TLS" # no plaintext listener at all
      in_cluster    = true
    }
  }

  # SASL/SCRAM only: the services hold a user name and password from Secrets Manager. IAM
  # auth is off (librdkafka would need the MSK IAM signer) and so is unauthenticated access.
  client_authentication {
    unauthenticated = false

    sasl {
      scram = true
      iam   = false
    }
  }

  open_monitoring {
    prometheus {
      jmx_exporter {
        enabled_in_broker = true
      }
      node_exporter {
        enabled_in_broker = true
      }
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.broker.name
      }
    }
  }

  tags = var.tags

  lifecycle {
    # Storage auto-scaling grows the volumes behind Terraform's back, and MSK cannot shrink
    # them: ebs_volume_gb is the size at creation only.
    ignore_changes = [broker_node_group_info[0].storage_info[0].ebs_storage_info[0].volume_size]
  }
}

resource "aws_appautoscaling_target" "broker_storage" {
  count = var.ebs_max_volume_gb > var.ebs_volume_gb ? 1 : 0

  service_namespace  = "kafka"
  scalable_dimension = "kafka:broker-storage:VolumeSize"
  resource_id        = aws_msk_cluster.this.arn
  min_capacity       = 1
  max_capacity       = var.ebs_max_volume_gb
  tags               = var.tags
}

resource "aws_appautoscaling_policy" "broker_storage" {
  count = var.ebs_max_volume_gb > var.ebs_volume_gb ? 1 : 0

  name               = "${var.name}-broker-storage"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.broker_storage[0].service_namespace
  scalable_dimension = aws_appautoscaling_target.broker_storage[0].scalable_dimension
  resource_id        = aws_appautoscaling_target.broker_storage[0].resource_id

  target_tracking_scaling_policy_configuration {
    target_value     = 60
    disable_scale_in = true # MSK volumes only grow

    predefined_metric_specification {
      predefined_metric_type = "KafkaBrokerStorageUtilization"
    }
  }
}
