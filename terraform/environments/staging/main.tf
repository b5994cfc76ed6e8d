# Staging: the whole platform at small sizes, one NAT gateway, no deletion protection.
#
#   network -> kafka, cql, redis (data subnets, ingress from the service security group)
#           -> services (ECS cluster, gateway + NLB, projectors and search, chatctl init,
#              the data-key KMS key of crypto-shredding, the daily retention task)
#           -> schema_registry (in the services' cluster; its URL goes back to services)
#           -> observability (alarms, topic, dashboard)
#           -> attachments (S3 bucket; its name goes to the gateways, its grant to their
#              task role)
#
# After `tofu apply`, run the command in the rollout_command output: it runs
# `chatctl init` and then moves the services to the task definitions just registered.

locals {
  name        = "chat-staging"
  environment = "staging"

  tags = merge(var.tags, {
    Project     = "chat"
    Environment = local.environment
    ManagedBy   = "opentofu"
  })

  sizing = {
    kafka_broker_instance_type = "kafka.m7g.large"
    kafka_brokers_per_az       = 1
    kafka_broker_count         = 3
    cql_instance_type          = "i4i.large"
    redis_node_type            = "cache.r7g.large"
    redis_replicas             = 1
    gateway = {
      cpu                         = 1024
      memory                      = 2048
      min                         = 2
      max                         = 4
      target_cpu_percent          = 60
      target_connections_per_task = 10000
    }
    projectors = {
      history       = { cpu = 512, memory = 1024, desired = 1 }
      fanout        = { cpu = 512, memory = 1024, desired = 1 }
      presence      = { cpu = 256, memory = 512, desired = 1 }
      notifications = { cpu = 256, memory = 512, desired = 1 }
      webhook       = { cpu = 256, memory = 512, desired = 1 }
      search        = { cpu = 512, memory = 1024, desired = 1 }
    }
    # Ephemeral storage of the search task, where its index lives (about 130 bytes a
    # message in a first measurement; terraform/README.md, "Search").
    search_disk_gib       = 30
    schema_registry_tasks = 2
  }

  # The replication group's node ids, for the per-node ElastiCache alarms. With transit
  # encryption the primary endpoint is master.<group>.<hash>.<region>.cache.amazonaws.com;
  # the nodes are <group>-001, -002, ...
  redis_endpoint_labels      = split(".", module.redis.primary_endpoint)
  redis_replication_group_id = local.redis_endpoint_labels[0] == "master" ? local.redis_endpoint_labels[1] : local.redis_endpoint_labels[0]
  redis_cache_cluster_ids    = [for i in range(1, local.sizing.redis_replicas + 2) : format("%s-%03d", local.redis_replication_group_id, i)]
}

module "network" {
  source = "../../modules/network"

  name                     = local.name
  tags                     = local.tags
  cidr_block               = var.vpc_cidr_block
  nat_gateway_per_az       = false
  flow_logs_retention_days = var.log_retention_days
}

module "kafka" {
  source = "../../modules/kafka"

  name                      = local.name
  tags                      = local.tags
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.data_subnet_ids
  client_security_group_ids = [module.network.service_security_group_id]
  broker_instance_type      = local.sizing.kafka_broker_instance_type
  brokers_per_az            = local.sizing.kafka_brokers_per_az
  ebs_volume_gb             = var.kafka_ebs_volume_gb
  log_retention_days        = var.log_retention_days
}

module "cql" {
  source = "../../modules/cql"

  name                      = local.name
  tags                      = local.tags
  mode                      = var.cql_mode
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.data_subnet_ids
  subnet_cidr_blocks        = module.network.data_subnet_cidr_blocks
  subnet_availability_zones = module.network.availability_zones
  client_security_group_ids = [module.network.service_security_group_id]
  instance_type             = local.sizing.cql_instance_type
  tls_ca_secret_arn         = var.cql_tls_ca_secret_arn
  tls_ca_certificate_pem    = var.cql_tls_ca_certificate_pem

  external_contact_points            = var.cql_external_contact_points
  external_local_datacenter          = var.cql_external_local_datacenter
  external_credentials_secret_arn    = var.cql_external_credentials_secret_arn
  external_ca_certificate_secret_arn = var.cql_external_ca_certificate_secret_arn
}

module "redis" {
  source = "../../modules/redis"

  name                      = local.name
  tags                      = local.tags
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.data_subnet_ids
  availability_zones        = module.network.availability_zones
  client_security_group_ids = [module.network.service_security_group_id]
  node_type                 = local.sizing.redis_node_type
  replicas                  = local.sizing.redis_replicas
}

module "services" {
  source = "../../modules/services"

  name                      = local.name
  tags                      = local.tags
  vpc_id                    = module.network.vpc_id
  public_subnet_ids         = module.network.public_subnet_ids
  service_subnet_ids        = module.network.service_subnet_ids
  service_security_group_id = module.network.service_security_group_id
  allowed_ingress_cidrs     = var.allowed_ingress_cidrs
  certificate_arn           = var.certificate_arn

  image_tag        = var.image_tag
  cpu_architecture = var.cpu_architecture
  gateway          = local.sizing.gateway
  projectors       = local.sizing.projectors
  webhook_url      = var.webhook_url

  # The search role registers search.<name>.internal in the schema registry's namespace.
  search_ephemeral_storage_gib = local.sizing.search_disk_gib
  service_discovery_namespace = {
    id   = module.schema_registry.dns_namespace_id
    name = module.schema_registry.dns_namespace_name
  }

  kafka_bootstrap_brokers = module.kafka.bootstrap_brokers_sasl_scram
  kafka_scram_secret_arn  = module.kafka.scram_secret_arn
  kafka_partitions        = var.kafka_partitions

  cql_contact_points            = module.cql.contact_points
  cql_local_datacenter          = module.cql.local_datacenter
  cql_credentials_secret_arn    = module.cql.credentials_secret_arn
  cql_ca_certificate_secret_arn = module.cql.ca_certificate_secret_arn

  redis_url                   = module.redis.url
  redis_auth_token_secret_arn = module.redis.auth_token_secret_arn

  attachments = {
    bucket = module.attachments.bucket_name
    region = module.attachments.region
  }

  registry_url = module.schema_registry.url

  # Crypto-shredding: the data-key KMS key is the services module's; these are the
  # periods and the retention (a daily `chatctl retention apply` when above 0, or when
  # conversations may set their own retention).
  compliance = {
    key_period_days                 = var.compliance_key_period_days
    retention_days                  = var.compliance_retention_days
    key_cache_secs                  = var.compliance_key_cache_secs
    conversation_retention_enabled  = var.compliance_conversation_retention_enabled
    conversation_retention_min_days = var.compliance_conversation_retention_min_days
    conversation_retention_max_days = var.compliance_conversation_retention_max_days
  }

  # Erasure over HTTP, on the ops port (terraform/README.md, "The gateways' admin API").
  admin_api_enabled = var.admin_api_enabled

  extra_environment   = var.extra_environment
  gateway_environment = var.gateway_environment

  log_retention_days                = var.log_retention_days
  load_balancer_deletion_protection = false
}

# Browsers upload and download attachments straight from S3 with URLs the gateways
# presign; only the site's own origin may (CORS), and only the gateways' task role holds
# the grant.
module "attachments" {
  source = "../../modules/attachments"

  name                           = local.name
  tags                           = local.tags
  allowed_origins                = [var.public_origin]
  gateway_task_role_name         = module.services.gateway_task_role_name
  noncurrent_version_expiry_days = 7
}

module "schema_registry" {
  source = "../../modules/schema_registry"

  name                      = local.name
  tags                      = local.tags
  ecs_cluster_arn           = module.services.ecs_cluster_arn
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.service_subnet_ids
  service_security_group_id = module.network.service_security_group_id
  kafka_bootstrap_brokers   = module.kafka.bootstrap_brokers_sasl_scram
  kafka_scram_secret_arn    = module.kafka.scram_secret_arn
  desired_count             = local.sizing.schema_registry_tasks
  log_retention_days        = var.log_retention_days
}

module "observability" {
  source = "../../modules/observability"

  name        = local.name
  tags        = local.tags
  alarm_email = var.alarm_email

  metrics_namespace        = module.services.metrics_namespace
  ecs_cluster_name         = module.services.ecs_cluster_name
  gateway_service_name     = module.services.gateway_service_name
  projector_service_names  = module.services.projector_service_names
  other_ecs_service_names  = [module.schema_registry.service_name]
  load_balancer_arn_suffix = module.services.load_balancer_arn_suffix
  target_group_arn_suffix  = module.services.target_group_arn_suffix

  kafka_cluster_arn       = module.kafka.cluster_arn
  kafka_broker_count      = local.sizing.kafka_broker_count
  redis_cache_cluster_ids = local.redis_cache_cluster_ids
}
