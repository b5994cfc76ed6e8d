locals {
  nat_gateway_count = var.nat_gateway_per_az ? 3 : 1
}

# --- public: the only tier with a route to the internet gateway ---

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = 3

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# --- NAT: egress for the service tier (webhook deliveries, anything without an endpoint) ---

resource "aws_eip" "nat" {
  count = local.nat_gateway_count

  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_gateway_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  tags          = merge(var.tags, { Name = "${var.name}-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

# --- service: one table per zone, so each zone can use its own NAT gateway ---

resource "aws_route_table" "service" {
  count = 3

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-service-${local.azs[count.index]}" })
}

resource "aws_route" "service_nat" {
  count = 3

  route_table_id         = aws_route_table.service[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.nat_gateway_per_az ? count.index : 0].id
}

resource "aws_route_table_association" "service" {
  count = 3

  subnet_id      = aws_subnet.service[count.index].id
  route_table_id = aws_route_table.service[count.index].id
}

# --- data: no route out at all ---
# The data stores need nothing from the internet: the ScyllaDB image is self-contained and
# reaches AWS APIs (Secrets Manager, Session Manager) through the VPC endpoints, and the
# S3 gateway endpoint adds its own prefix-list route. `route = []` makes this table's
# routes exclusively managed here, so a default route added by hand is removed by the next
# apply.
resource "aws_route_table" "data" {
  vpc_id = aws_vpc.this.id
  route  = []
  tags   = merge(var.tags, { Name = "${var.name}-data" })
}

resource "aws_route_table_association" "data" {
  count = 3

  subnet_id      = aws_subnet.data[count.index].id
  route_table_id = aws_route_table.data.id
}
