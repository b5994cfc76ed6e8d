data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id

  engine_version = coalesce(var.engine_version, var.engine == "valkey" ? "8.0" : "7.1")
  node_count     = var.replicas + 1

  log_group_names = {
    "slow-log"   = "/aws/elasticache/${var.name}/slow-log"
    "engine-log" = "/aws/elasticache/${var.name}/engine-log"
  }
}

resource "aws_elasticache_subnet_group" "this" {
  name        = var.name
  description = "${var.name}: Redis nodes in the data subnets"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.log_group_names

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
  tags              = var.tags
}

# Cluster mode DISABLED, on purpose: the services use plain PUBLISH/SUBSCRIBE and multi-key
# Lua scripts whose keys carry no hash tags, which a sharded cluster would reject (CROSSSLOT)
# or deliver only within a shard. One primary takes every write; replicas in the other zones
# take over automatically. Sharded pub/sub (SPUBLISH) and hash-tagged keys are future work.
resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "${var.name}: live delivery and presence"

  engine         = var.engine
  engine_version = local.engine_version
  node_type      = var.node_type
  port           = 6379

  cluster_mode                = "disabled"
  num_cache_clusters          = local.node_count
  preferred_cache_cluster_azs = length(var.availability_zones) > 0 ? [for i in range(local.node_count) : var.availability_zones[i % length(var.availability_zones)]] : null
  multi_az_enabled            = true
  automatic_failover_enabled  = true

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.this.arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required" # TLS only; "preferred" would also accept plaintext

  auth_token                 = aws_secretsmanager_secret_version.auth_token.secret_string
  auth_token_update_strategy = "ROTATE" # on a change, old and new token both work until the services restart

  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = var.snapshot_window
  maintenance_window         = var.maintenance_window
  auto_minor_version_upgrade = true

  dynamic "log_delivery_configuration" {
    for_each = local.log_group_names

    content {
      log_type         = log_delivery_configuration.key
      destination_type = "cloudwatch-logs"
      destination      = aws_cloudwatch_log_group.this[log_delivery_configuration.key].name
      log_format       = "json"
    }
  }

  tags = var.tags

  lifecycle {
    # Token rotation is a runbook (README), not a side effect of a plan.
    ignore_changes = [auth_token]
  }
}
