data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id

  ec2        = var.mode == "ec2"
  node_count = local.ec2 ? 3 : 0

  lookup_subnets = local.ec2 && (length(var.subnet_cidr_blocks) == 0 || length(var.subnet_availability_zones) == 0)
  subnet_cidrs   = length(var.subnet_cidr_blocks) > 0 ? var.subnet_cidr_blocks : data.aws_subnet.node[*].cidr_block
  node_zones     = length(var.subnet_availability_zones) > 0 ? var.subnet_availability_zones : data.aws_subnet.node[*].availability_zone

  # Fixed addresses, known before any node boots, so every node can list all three as seeds.
  # Each is host 4 of the top /28 of its subnet: the network module explicitly reserves that
  # block so MSK or ElastiCache can never take these addresses first.
  node_ips = [
    for c in local.subnet_cidrs :
    cidrhost(cidrsubnet(c, 28 - tonumber(split("/", c)[1]), pow(2, 28 - tonumber(split("/", c)[1])) - 1), 4)
  ]

  # GossipingPropertyFileSnitch with dc = the region name and rack = the zone name. (Ec2Snitch
  # would name the dc "us-east" and the rack "1a"; spelling them out keeps
  # CHAT__CQL__LOCAL_DATACENTER equal to the region and the racks readable.) Three racks and
  # replication factor 3 put one replica of every row in each zone.
  datacenter = local.region

  tls_dir = "/etc/scylla/tls"
}

data "aws_subnet" "node" {
  count = local.lookup_subnets ? 3 : 0
  id    = var.subnet_ids[count.index]
}

data "aws_ami" "scylla" {
  count = local.ec2 && var.ami_id == null ? 1 : 0

  most_recent = true
  owners      = [var.scylla_ami_owner]

  filter {
    name   = "name"
    values = [var.scylla_ami_name_filter]
  }

  filter {
    name   = "architecture"
    values = [var.scylla_ami_architecture]
  }

  filter {
    name   = "state"
    values = ["available"]
  }
}

# The address belongs to this interface, not to an instance: replacing a node (new image,
# lost NVMe) keeps its address and therefore its place in every other node's seed list.
resource "aws_network_interface" "node" {
  count = local.node_count

  subnet_id       = var.subnet_ids[count.index]
  private_ips     = [local.node_ips[count.index]]
  security_groups = [aws_security_group.node[0].id]
  description     = "${var.name} ScyllaDB node in ${local.node_zones[count.index]}"
  tags            = merge(var.tags, { Name = "${var.name}-scylla-${local.node_zones[count.index]}" })

  lifecycle {
    precondition {
      condition     = var.vpc_id != null && var.tls_ca_secret_arn != null && var.tls_ca_certificate_pem != null
      error_message = "mode = \"ec2\" needs vpc_id, tls_ca_secret_arn and tls_ca_certificate_pem (see the module README for making the CA)."
    }
  }
}

resource "aws_instance" "node" {
  count = local.node_count

  ami                     = coalesce(var.ami_id, try(data.aws_ami.scylla[0].id, null))
  instance_type           = var.instance_type
  iam_instance_profile    = aws_iam_instance_profile.node[0].name
  monitoring              = true
  ebs_optimized           = true
  disable_api_termination = var.termination_protection
  disable_api_stop        = var.termination_protection # a stopped node comes back with empty NVMe

  # `network_interface` at device 0 works on provider 5.100 and 6.x alike (6.10 adds
  # `primary_network_interface` for the same and deprecates this block; switch when the
  # floor moves to 6.10).
  network_interface {
    device_index         = 0
    network_interface_id = aws_network_interface.node[count.index].id
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1          # no containers on the node need it
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.root_volume_gb
    encrypted             = true
    kms_key_id            = aws_kms_key.node[0].arn
    delete_on_termination = true
  }

  dynamic "ebs_block_device" {
    for_each = var.data_volume_gb > 0 ? [var.data_volume_gb] : []

    content {
      device_name           = "/dev/sdf"
      volume_type           = "gp3"
      volume_size           = ebs_block_device.value
      encrypted             = true
      kms_key_id            = aws_kms_key.node[0].arn
      delete_on_termination = true
    }
  }

  user_data = templatefile("${path.module}/templates/user-data.tftpl", {
    scylla_config = yamlencode({
      scylla_yaml = merge({
        cluster_name          = var.name
        endpoint_snitch       = "GossipingPropertyFileSnitch"
        listen_address        = local.node_ips[count.index]
        rpc_address           = local.node_ips[count.index]
        broadcast_rpc_address = local.node_ips[count.index]
        seed_provider = [{
          class_name = "org.apache.cassandra.locator.SimpleSeedProvider"
          parameters = [{ seeds = join(",", local.node_ips) }]
        }]
        authenticator = "PasswordAuthenticator"
        authorizer    = "CassandraAuthorizer"
        # With client encryption on and no *_ssl ports set, both CQL ports speak TLS only.
        native_transport_port             = 9042
        native_shard_aware_transport_port = 19042
        client_encryption_options = {
          enabled     = true
          certificate = "${local.tls_dir}/node.crt"
          keyfile     = "${local.tls_dir}/node.key"
        }
        server_encryption_options = {
          internode_encryption = "all"
          certificate          = "${local.tls_dir}/node.crt"
          keyfile              = "${local.tls_dir}/node.key"
          truststore           = "${local.tls_dir}/ca.crt"
          require_client_auth  = true
        }
        # Local Unix socket, no authentication, root/scylla only: how the node creates roles
        # without a shared superuser password.
        maintenance_socket = "workdir"
        # New keyspaces use vnodes, not tablets: the store's sign-up path uses a lightweight
        # transaction (INSERT ... IF NOT EXISTS), which tablet keyspaces do not support.
        enable_tablets = false
      }, var.scylla_yaml_overrides)
      # The image's first-boot setup must not start ScyllaDB: the certificate does not exist
      # yet. chat-scylla-start.service starts it once setup is done.
      start_scylla_on_first_boot = false
      data_device                = var.data_volume_gb > 0 ? "attached" : "instance_store"
      raid_level                 = 0
    })
    cluster_name           = var.name
    region                 = local.region
    datacenter             = local.datacenter
    rack                   = local.node_zones[count.index]
    private_ip             = local.node_ips[count.index]
    tls_dir                = local.tls_dir
    tls_ca_secret_arn      = coalesce(var.tls_ca_secret_arn, "unset")
    credentials_secret_arn = aws_secretsmanager_secret.credentials[0].arn
    certificate_days       = var.node_certificate_days
  })

  tags        = merge(var.tags, { Name = "${var.name}-scylla-${local.node_zones[count.index]}", Rack = local.node_zones[count.index] })
  volume_tags = merge(var.tags, { Name = "${var.name}-scylla-${local.node_zones[count.index]}" })

  lifecycle {
    # A stop/start or a replacement wipes the node's NVMe data, and the provider applies an
    # instance type change by stopping the instance: newer images, template edits and type
    # changes must not do that behind an operator's back. Roll them out one node at a time
    # with `-replace` (README).
    ignore_changes = [ami, user_data, instance_type]
  }

  # Everything the boot scripts read must exist, and be readable, before the first boot.
  depends_on = [
    aws_secretsmanager_secret_version.credentials,
    aws_iam_role_policy.node_secrets,
    aws_iam_role_policy_attachment.node_ssm,
  ]
}
