data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

# Only read when availability_zones is not pinned. No `state = "available"` filter: a zone
# that is impaired at plan time would drop out of the list and shift every subnet.
data "aws_availability_zones" "region" {
  #checkov:skip=CKV_AWS_394:Used only when availability_zones is not pinned, and then only the first three names sorted; AWS names new zones with later letters, so the set cannot shift. Environments should pin availability_zones (README).
  count = length(var.availability_zones) > 0 ? 0 : 1

  # Local Zones and Wavelength Zones are opt-in and cannot host MSK or ElastiCache.
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id

  region_zones = length(var.availability_zones) > 0 ? [] : sort(flatten(data.aws_availability_zones.region[*].names))
  azs          = length(var.availability_zones) > 0 ? var.availability_zones : slice(local.region_zones, 0, min(3, length(local.region_zones)))

  # Fixed layout of the /16 (see README):
  #   public  x.x.0.0/24,  x.x.1.0/24,  x.x.2.0/24   load balancers and NAT gateways only
  #   service x.x.16.0/20, x.x.32.0/20, x.x.48.0/20  ECS tasks (awsvpc: one address per task)
  #   data    x.x.64.0/24, x.x.65.0/24, x.x.66.0/24  MSK, ScyllaDB, ElastiCache
  public_cidrs  = [for i in range(3) : cidrsubnet(var.cidr_block, 8, i)]
  service_cidrs = [for i in range(3) : cidrsubnet(var.cidr_block, 4, i + 1)]
  data_cidrs    = [for i in range(3) : cidrsubnet(var.cidr_block, 8, 64 + i)]

  # The top /28 of each data subnet is reserved for fixed addresses (the ScyllaDB nodes,
  # which are each other's seeds and must know them before boot). An explicit reservation
  # keeps AWS from handing these addresses to MSK or ElastiCache interfaces. The cql module
  # picks its addresses in this block by the same rule.
  data_static_cidrs = [for c in local.data_cidrs : cidrsubnet(c, 4, 15)]
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true # interface endpoints' private DNS needs both

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    precondition {
      condition     = length(local.azs) == 3
      error_message = "The region offers fewer than three availability zones; every tier here spreads over three."
    }
  }
}

# The default security group is left with no rules at all, so nothing that forgets to name a
# group gets the default's allow-all-from-itself.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_subnet" "public" {
  count = 3

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = local.public_cidrs[count.index]

  # Only load balancers and NAT gateways live here; both get their public addresses
  # explicitly, so nothing launched here gets one by accident.
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" })
}

resource "aws_subnet" "service" {
  count = 3

  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = local.service_cidrs[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-service-${local.azs[count.index]}", Tier = "service" })
}

resource "aws_subnet" "data" {
  count = 3

  vpc_id                  = aws_vpc.this.id
  availability_zone       = local.azs[count.index]
  cidr_block              = local.data_cidrs[count.index]
  map_public_ip_on_launch = false

  tags = merge(var.tags, { Name = "${var.name}-data-${local.azs[count.index]}", Tier = "data" })
}

resource "aws_ec2_subnet_cidr_reservation" "data_static" {
  count = 3

  subnet_id        = aws_subnet.data[count.index].id
  cidr_block       = local.data_static_cidrs[count.index]
  reservation_type = "explicit"
  description      = "Fixed addresses (ScyllaDB nodes); never assigned automatically"
}
