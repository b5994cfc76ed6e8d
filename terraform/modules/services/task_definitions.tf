# Task definitions: the gateway, one per projector role, and the one-off `chatctl init`.
#
# Configuration is the CHAT__SECTION__KEY variables of services/chat-core/src/config.rs
# and services/gateway/src/configuration.rs. Two notes on names:
#  - The CQL nodes go in CQL_NODES, the loader's well-known variable: it is the one the
#    loader splits on commas (CHAT__CQL__NODES would have to be a list).
#  - kafka.security_protocol is snake_case in the loader (`sasl_ssl`, not `SASL_SSL`).
# Secrets come from Secrets Manager through `secrets` (valueFrom; JSON keys as
# "<arn>:<key>::"), never from plain environment values.

locals {
  common_environment = {
    CHAT__KAFKA__BROKERS             = var.kafka_bootstrap_brokers
    CHAT__KAFKA__SECURITY_PROTOCOL   = "sasl_ssl"
    CHAT__KAFKA__SASL__MECHANISM     = "SCRAM-SHA-512"
    CHAT__KAFKA__PARTITIONS          = tostring(var.kafka_partitions)
    CHAT__KAFKA__REPLICATION_FACTOR  = tostring(var.kafka_replication_factor)
    CHAT__KAFKA__MIN_INSYNC_REPLICAS = tostring(var.kafka_min_insync_replicas)
    CHAT__REGISTRY__URL              = var.registry_url
    CHAT__TELEMETRY__LOG_FORMAT      = "json"
  }

  store_environment = merge(
    {
      CQL_NODES                     = join(",", var.cql_contact_points)
      CHAT__CQL__LOCAL_DATACENTER   = var.cql_local_datacenter
      CHAT__CQL__REPLICATION_FACTOR = tostring(var.cql_replication_factor)
    },
    var.cql_tls_enabled ? { CHAT__CQL__TLS__ENABLED = "true" } : {},
  )

  redis_environment = {
    CHAT__REDIS__URL = var.redis_url
  }

  # name => { arn, key }: key null for a secret whose whole string is the value.
  kafka_secrets = {
    CHAT__KAFKA__SASL__USERNAME = { arn = var.kafka_scram_secret_arn, key = "username" }
    CHAT__KAFKA__SASL__PASSWORD = { arn = var.kafka_scram_secret_arn, key = "password" }
  }
  store_secrets = merge(
    {
      CHAT__CQL__USERNAME = { arn = var.cql_credentials_secret_arn, key = "username" }
      CHAT__CQL__PASSWORD = { arn = var.cql_credentials_secret_arn, key = "password" }
    },
    var.cql_ca_certificate_secret_arn == null ? {} : {
      CHAT__CQL__TLS__CA_PEM = { arn = var.cql_ca_certificate_secret_arn, key = null }
    },
  )
  redis_secrets = {
    CHAT__REDIS__PASSWORD = { arn = var.redis_auth_token_secret_arn, key = null }
  }

  gateway_environment = merge(
    local.common_environment,
    local.store_environment,
    local.redis_environment,
    local.compliance_environment,
    {
      # Listen on the task's address: the load balancer reaches 8080 and health-checks
      # /readyz on 9180. The public port serves no /readyz or /metrics.
      CHAT__GATEWAY__HOST     = "0.0.0.0"
      CHAT__GATEWAY__PORT     = tostring(local.gateway_port)
      CHAT__GATEWAY__OPS_HOST = "0.0.0.0"
      CHAT__GATEWAY__OPS_PORT = tostring(local.gateway_ops_port)
      # At SIGTERM the sockets close (1001) over a minute, not at once, so a replaced
      # task's clients reconnect to the others gradually; 60 s plus the producer's flush
      # fits stopTimeout (120 s). CHAT__GATEWAY__GATEWAY_ID stays unset: each task
      # makes its own.
      CHAT__GATEWAY__SHUTDOWN_SPREAD_SECS = "60"
      # CHAT__GATEWAY__THROTTLE__TRUSTED_PROXIES stays unset (empty): the load balancer
      # forwards TCP with the client's address preserved, so the TCP peer is the client
      # and no X-Forwarded-For is trusted.
      # The search service by its Cloud Map name; empty (search answers 503) without the
      # search role, rather than the binary's default of 127.0.0.1, which is nothing in a
      # task. Sharded search lists every shard's service here (gateway_environment).
      CHAT__GATEWAY__SEARCH_URLS = local.search_url
    },
    # Where browsers upload and download attachments with the URLs the gateway presigns:
    # the region's S3 with virtual-host URLs. No keys: the task role's credentials sign.
    var.attachments == null ? {} : {
      CHAT__GATEWAY__ATTACHMENTS__ENDPOINT  = "https://s3.${var.attachments.region}.amazonaws.com"
      CHAT__GATEWAY__ATTACHMENTS__URL_STYLE = "virtual_host"
      CHAT__GATEWAY__ATTACHMENTS__BUCKET    = var.attachments.bucket
      CHAT__GATEWAY__ATTACHMENTS__REGION    = var.attachments.region
    },
    var.extra_environment,
    var.gateway_environment,
  )

  # Which stores a role talks to. Every role reaches the CQL store: the webhook and search
  # roles only for the data keys (table data_keys) that open sealed content, the others
  # for their projections too. The webhook and search roles do not use Redis.
  projector_uses_redis = { for role in keys(local.projectors) : role => !contains(["webhook", "search"], role) }

  # The search role listens on the task's address (the gateways call it there; its
  # security group admits only them) and keeps its index on the task's own disk.
  search_environment = {
    CHAT__SEARCH__DIR  = local.search_dir
    CHAT__SEARCH__HOST = "0.0.0.0"
    CHAT__SEARCH__PORT = tostring(local.search_port)
  }

  projector_environment = {
    for role in keys(local.projectors) : role => merge(
      local.common_environment,
      local.store_environment,
      local.projector_uses_redis[role] ? local.redis_environment : {},
      local.compliance_environment,
      role == "webhook" ? { CHAT__WEBHOOK__URL = var.webhook_url } : {},
      role == "search" ? local.search_environment : {},
      var.extra_environment,
    )
  }

  # The chatctl task: `init` on every rollout, and the operator's commands (erase,
  # retention, export, holds) with its command overridden.
  init_environment = merge(local.common_environment, local.store_environment, local.compliance_environment, var.extra_environment)

  workload_secret_sources = merge(
    {
      gateway = merge(local.kafka_secrets, local.store_secrets, local.redis_secrets, {
        CHAT__GATEWAY__JWT_SECRET = { arn = aws_secretsmanager_secret.jwt.arn, key = null }
        },
        # Without it the gateway serves no admin API (404 on /admin/v1/...).
        var.admin_api_enabled ? {
          CHAT__GATEWAY__ADMIN_TOKEN = { arn = aws_secretsmanager_secret.admin_token[0].arn, key = null }
      } : {})
      init = merge(local.kafka_secrets, local.store_secrets)
    },
    {
      for role in keys(local.projectors) : "projector-${role}" => merge(
        local.kafka_secrets,
        local.store_secrets,
        local.projector_uses_redis[role] ? local.redis_secrets : {},
        role == "webhook" ? { CHAT__WEBHOOK__SECRET = { arn = aws_secretsmanager_secret.webhook[0].arn, key = null } } : {},
      )
    },
  )

  # The same, as a list per workload (iam.tf reads the ARNs from it).
  workload_secrets = {
    for workload, sources in local.workload_secret_sources : workload => [
      for env_name, s in sources : {
        name      = env_name
        arn       = s.arn
        valueFrom = s.key == null ? s.arn : "${s.arn}:${s.key}::"
      }
    ]
  }

  # --- Pieces shared by the container definitions ---

  tmp_volume = "tmp"

  # Read-only root filesystem: the one writable path is an empty task-local /tmp.
  tmp_mount = [{ sourceVolume = local.tmp_volume, containerPath = "/tmp", readOnly = false }]

  log_configuration = {
    for workload in keys(local.workloads) : workload => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.workload[workload].name
        awslogs-region        = local.region
        awslogs-stream-prefix = workload
      }
    }
  }

  to_environment = { for workload, env in merge(
    { gateway = local.gateway_environment, init = local.init_environment },
    { for role, env in local.projector_environment : "projector-${role}" => env },
  ) : workload => [for k in sort(keys(env)) : { name = k, value = env[k] }] }

  to_secrets = {
    for workload, secrets in local.workload_secrets : workload => [
      for s in secrets : { name = s.name, valueFrom = s.valueFrom }
    ]
  }
}

# --- Metrics sidecar -----------------------------------------------------------------------
#
# A CloudWatch agent in every gateway and projector task scrapes the task's own /metrics
# over localhost and sends the series below as embedded metric format (EMF) events to the
# metrics log group; CloudWatch turns them into metrics in local.metrics_namespace with
# the dimensions ClusterName and ServiceName (labels added by the scrape config). Counters
# arrive as the delta since the previous scrape (the agent's conversion), so a Sum over a
# period is the increase in that period. Histograms are dropped by the agent.
#
# A sidecar per task rather than one agent scraping every task: no service discovery
# (and no ecs:List*/Describe* permissions), nothing to open between tasks, and the
# projectors serve /metrics on 127.0.0.1 only, which only a container of the same task
# can reach.

locals {
  sidecar_jobs = merge(
    {
      gateway = {
        job          = "chat-gateway"
        port         = local.gateway_ops_port
        service_name = local.gateway_service_name
      }
    },
    {
      for role in keys(local.projectors) : "projector-${role}" => {
        job          = "chat-projector"
        port         = local.projector_ops_port
        service_name = local.projector_service_names[role]
      }
    },
  )

  # Only the series the alarms, the dashboard and the autoscaling read are kept: every
  # kept series is a log event per scrape.
  kept_metrics = [
    "gateway_connections",
    "gateway_errors_total",
    "gateway_produce_failures_total",
    "audit_failures_total",
    "gateway_live_interruptions_total",
    "projector_lag",
    "projector_dead_letters_total",
    "projector_events_total",
    "search_documents",
    "search_index_bytes",
  ]

  prometheus_config = {
    for workload, j in local.sidecar_jobs : workload => yamlencode({
      global = {
        scrape_interval = "${var.metrics_scrape_interval_seconds}s"
        scrape_timeout  = "10s"
      }
      scrape_configs = [{
        job_name = j.job
        static_configs = [{
          targets = ["localhost:${j.port}"]
          labels = {
            ClusterName = local.cluster_name
            ServiceName = j.service_name
          }
        }]
        metric_relabel_configs = [{
          source_labels = ["__name__"]
          regex         = join("|", local.kept_metrics)
          action        = "keep"
        }]
      }]
    })
  }

  cloudwatch_agent_config = jsonencode({
    agent = { debug = false }
    logs = {
      force_flush_interval = 5
      metrics_collected = {
        prometheus = {
          cluster_name           = local.cluster_name
          log_group_name         = aws_cloudwatch_log_group.metrics.name
          prometheus_config_path = "env:PROMETHEUS_CONFIG_CONTENT"
          emf_processor = {
            metric_namespace = local.metrics_namespace
            metric_unit = {
              gateway_connections = "Count"
              projector_lag       = "Count"
              search_documents    = "Count"
              search_index_bytes  = "Bytes"
            }
            metric_declaration = [
              {
                # Connections per task (autoscaling, dashboard), the failures to append,
                # and audit records the gateway could not write (it serves on without them).
                source_labels    = ["job"]
                label_matcher    = "^chat-gateway$"
                dimensions       = [["ClusterName", "ServiceName"]]
                metric_selectors = ["^gateway_connections$", "^gateway_produce_failures_total$", "^gateway_live_interruptions_total$", "^audit_failures_total$"]
              },
              {
                # The error codes answered with a 5xx status (unavailable 503, internal 500).
                source_labels    = ["job", "code"]
                label_matcher    = "chat-gateway;(unavailable|internal)"
                dimensions       = [["ClusterName", "ServiceName", "code"]]
                metric_selectors = ["^gateway_errors_total$"]
              },
              {
                # Lag arrives once per partition; Maximum over a period is the worst
                # partition of the role.
                source_labels    = ["job"]
                label_matcher    = "^chat-projector$"
                dimensions       = [["ClusterName", "ServiceName"]]
                metric_selectors = ["^projector_lag$", "^projector_dead_letters_total$", "^projector_events_total$"]
              },
              {
                # Only the search role serves these: its documents and the index's bytes
                # on disk, against the task's ephemeral storage.
                source_labels    = ["job"]
                label_matcher    = "^chat-projector$"
                dimensions       = [["ClusterName", "ServiceName"]]
                metric_selectors = ["^search_documents$", "^search_index_bytes$"]
              },
            ]
          }
        }
      }
    }
  })

  metrics_sidecar = {
    for workload, j in local.sidecar_jobs : workload => {
      name      = "cloudwatch-agent"
      image     = "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:${var.cloudwatch_agent_version}"
      essential = false # losing metrics must not stop the chat container
      cpu       = 64
      memory    = 256
      # The agent writes its translated configuration and its own state under /opt/aws
      # at start, so its root filesystem cannot be read-only.
      readonlyRootFilesystem = false
      environment = [
        { name = "CW_CONFIG_CONTENT", value = local.cloudwatch_agent_config },
        { name = "PROMETHEUS_CONFIG_CONTENT", value = local.prometheus_config[workload] },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.workload[workload].name
          awslogs-region        = local.region
          awslogs-stream-prefix = "cloudwatch-agent"
        }
      }
    }
  }

  runtime_platform = {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Each gateway holds up to gateway.max_connections (50,000 by default) sockets.
  nofile_ulimit = [{ name = "nofile", softLimit = 1048576, hardLimit = 1048576 }]
}

# --- Gateway -------------------------------------------------------------------------------

resource "aws_ecs_task_definition" "gateway" {
  #checkov:skip=CKV_AWS_336:The gateway container's root filesystem is read-only; the CloudWatch agent sidecar's cannot be (it writes its translated configuration under /opt/aws at start).
  family                   = local.workloads.gateway.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  # Old revisions stay ACTIVE: the services run them until rollout.sh moves them on, and
  # a rollback goes back to one.
  skip_destroy       = true
  cpu                = var.gateway.cpu
  memory             = var.gateway.memory
  execution_role_arn = aws_iam_role.execution["gateway"].arn
  task_role_arn      = aws_iam_role.task["gateway"].arn

  runtime_platform {
    operating_system_family = local.runtime_platform.operating_system_family
    cpu_architecture        = local.runtime_platform.cpu_architecture
  }

  volume {
    name = local.tmp_volume
  }

  container_definitions = jsonencode([
    {
      name      = "gateway"
      image     = local.image.gateway
      essential = true
      command   = ["chat-gateway"]
      user      = var.container_user

      readonlyRootFilesystem = true
      privileged             = false
      mountPoints            = local.tmp_mount
      ulimits                = local.nofile_ulimit

      portMappings = [
        { name = "public", containerPort = local.gateway_port, protocol = "tcp" },
        { name = "ops", containerPort = local.gateway_ops_port, protocol = "tcp" },
      ]

      environment = local.to_environment.gateway
      secrets     = local.to_secrets.gateway

      # On SIGTERM the gateway turns /readyz to 503, closes its sockets with 1001 and
      # flushes its producer; give it two minutes before SIGKILL (the load balancer
      # stops sending new connections after its deregistration delay of 60 s).
      stopTimeout = 120

      # Liveness only (/healthz on the ops port, through the binary's own subcommand:
      # the image needs no curl). Readiness is the load balancer's /readyz check.
      healthCheck = {
        command     = ["CMD", "chat-gateway", "healthcheck"]
        interval    = 15
        timeout     = 5
        retries     = 3
        startPeriod = 90 # the gateway waits up to cql.connect_patience_secs (60) for the store
      }

      logConfiguration = local.log_configuration.gateway
    },
    local.metrics_sidecar.gateway,
  ])

  tags = var.tags
}

# --- Projector roles -----------------------------------------------------------------------

resource "aws_ecs_task_definition" "projector" {
  #checkov:skip=CKV_AWS_336:The projector container's root filesystem is read-only; the CloudWatch agent sidecar's cannot be (it writes its translated configuration under /opt/aws at start).
  for_each = local.projectors

  family                   = local.workloads["projector-${each.key}"].family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  # Old revisions stay ACTIVE: the services run them until rollout.sh moves them on, and
  # a rollback goes back to one.
  skip_destroy       = true
  cpu                = each.value.cpu
  memory             = each.value.memory
  execution_role_arn = aws_iam_role.execution["projector-${each.key}"].arn
  task_role_arn      = aws_iam_role.task["projector-${each.key}"].arn

  runtime_platform {
    operating_system_family = local.runtime_platform.operating_system_family
    cpu_architecture        = local.runtime_platform.cpu_architecture
  }

  # The search index lives on the task's ephemeral storage: gone when the task stops, so
  # a replacement task rebuilds it from the log (README, "Search").
  dynamic "ephemeral_storage" {
    for_each = each.key == "search" ? [var.search_ephemeral_storage_gib] : []
    content {
      size_in_gib = ephemeral_storage.value
    }
  }

  volume {
    name = local.tmp_volume
  }

  dynamic "volume" {
    for_each = each.key == "search" ? [local.search_volume] : []
    content {
      name = volume.value
    }
  }

  # The chat container first, as in every task definition here; the search role's index
  # owner last.
  container_definitions = jsonencode(concat(
    [
      # merge(list...): the search role's extra keys, as a list of zero or one object (a
      # conditional between an object and {} would not type-check).
      merge(concat([
        {
          name      = "projector"
          image     = local.image.projector
          essential = true
          command   = ["chat-projector", "--role", each.key, "--port", tostring(local.projector_ops_port)]
          user      = var.container_user

          readonlyRootFilesystem = true
          privileged             = false
          mountPoints            = each.key == "search" ? concat(local.tmp_mount, local.search_mount) : local.tmp_mount

          environment = local.to_environment["projector-${each.key}"]
          secrets     = local.to_secrets["projector-${each.key}"]

          # A projector commits only after its writes are durable; on SIGTERM it finishes
          # its chunk. A minute is plenty.
          stopTimeout = 60

          healthCheck = {
            command     = ["CMD", "chat-projector", "healthcheck", "--port", tostring(local.projector_ops_port)]
            interval    = 15
            timeout     = 5
            retries     = 3
            startPeriod = 90
          }

          logConfiguration = local.log_configuration["projector-${each.key}"]
        },
        ], each.key == "search" ? [{
          portMappings = [{ name = "search", containerPort = local.search_port, protocol = "tcp" }]
          # The index directory is root's until the owner container has given it away.
          dependsOn = [{ containerName = local.search_index_owner.name, condition = "SUCCESS" }]
      }] : [])...),
      local.metrics_sidecar["projector-${each.key}"],
    ],
    each.key == "search" ? [local.search_index_owner] : [],
  ))

  tags = var.tags
}

locals {
  search_mount = [{ sourceVolume = local.search_volume, containerPath = local.search_dir, readOnly = false }]

  # Fargate creates a bind mount's directory owned by root, and the chat containers run as
  # container_user with a read-only root filesystem: this short container (the projector
  # image, as root with every capability dropped but CHOWN) hands the index directory to
  # container_user and exits 0, and the projector starts only after it has (dependsOn
  # SUCCESS). It needs `chown` in the image (coreutils of the Debian runtime base).
  search_index_owner = {
    name      = "search-index-owner"
    image     = local.image.projector
    essential = false
    command   = ["chown", var.container_user, local.search_dir]
    user      = "0:0"

    readonlyRootFilesystem = true
    privileged             = false
    mountPoints            = local.search_mount
    linuxParameters = {
      capabilities = {
        drop = [
          "AUDIT_WRITE", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
          "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
        ]
      }
    }

    # try(): without the search role there is no projector-search log group, and this
    # container is then in no task definition.
    logConfiguration = try(merge(local.log_configuration["projector-search"], {
      options = merge(local.log_configuration["projector-search"].options, { awslogs-stream-prefix = "search-index-owner" })
    }), null)
  }
}

# --- chatctl init (one-off) ----------------------------------------------------------------
#
# Creates the topics, migrates the CQL keyspace and registers the schemas; safe to run on
# every deploy. Not a service: terraform/scripts/rollout.sh runs it with
# `aws ecs run-task` before it moves the services to new task definitions, and stops if it
# does not exit 0. The same task definition, with its command overridden, runs the
# operator's commands (`chatctl users erase`, `holds`, `export`: terraform/README.md,
# "Compliance operations") and the daily `chatctl retention apply` (compliance.tf). Its
# task role may only unwrap data keys (the data-key KMS key's policy), for `export`.

resource "aws_ecs_task_definition" "init" {
  family                   = local.workloads.init.family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  # Old revisions stay ACTIVE: the services run them until rollout.sh moves them on, and
  # a rollback goes back to one.
  skip_destroy       = true
  cpu                = 256
  memory             = 512
  execution_role_arn = aws_iam_role.execution["init"].arn
  task_role_arn      = aws_iam_role.task["init"].arn

  runtime_platform {
    operating_system_family = local.runtime_platform.operating_system_family
    cpu_architecture        = local.runtime_platform.cpu_architecture
  }

  volume {
    name = local.tmp_volume
  }

  container_definitions = jsonencode([
    {
      name      = "chatctl"
      image     = local.image.chatctl
      essential = true
      command   = ["chatctl", "init"]
      user      = var.container_user

      readonlyRootFilesystem = true
      privileged             = false
      mountPoints            = local.tmp_mount

      environment = local.to_environment.init
      secrets     = local.to_secrets.init

      logConfiguration = local.log_configuration.init
    },
  ])

  tags = var.tags
}
