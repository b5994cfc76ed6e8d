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

  mock_data "aws_availability_zones" {
    defaults = {
      names    = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
      zone_ids = ["euw1-az1", "euw1-az2", "euw1-az3"]
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"Service\":\"vpc-flow-logs.amazonaws.com\"}}]}"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000001"
      key_id = "00000000-0000-0000-0000-000000000001"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/vpc/chat-test/flow-logs"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::111122223333:role/chat-test-vpc-flow-logs"
    }
  }
}

# Distinct ids for the route tables and gateways, so the assertions can tell them apart (a
# mocked provider gives every instance of a type the same generated id).
override_resource {
  target = aws_route_table.public
  values = { id = "rtb-public" }
}

override_resource {
  target = aws_route_table.service
  values = { id = "rtb-service" }
}

override_resource {
  target = aws_route_table.data
  values = { id = "rtb-data" }
}

override_resource {
  target = aws_internet_gateway.this
  values = { id = "igw-test" }
}

override_resource {
  target = aws_nat_gateway.this
  values = { id = "nat-test" }
}

variables {
  name = "chat-test"
  tags = { Environment = "test" }
}

run "three_zones_and_three_subnets_of_each_kind" {
  command = plan

  assert {
    condition     = output.availability_zones == tolist(["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    error_message = "The module must use three availability zones (the region's first three when none are given)."
  }

  assert {
    condition     = length(aws_subnet.public) == 3 && length(aws_subnet.service) == 3 && length(aws_subnet.data) == 3
    error_message = "There must be exactly three public, three service and three data subnets."
  }

  assert {
    condition = alltrue([
      for tier in [aws_subnet.public, aws_subnet.service, aws_subnet.data] :
      length(distinct([for s in tier : s.availability_zone])) == 3
    ])
    error_message = "Each tier's three subnets must be in three different availability zones."
  }

  assert {
    condition = (
      [for s in aws_subnet.public : s.cidr_block] == ["10.40.0.0/24", "10.40.1.0/24", "10.40.2.0/24"] &&
      [for s in aws_subnet.service : s.cidr_block] == ["10.40.16.0/20", "10.40.32.0/20", "10.40.48.0/20"] &&
      [for s in aws_subnet.data : s.cidr_block] == ["10.40.64.0/24", "10.40.65.0/24", "10.40.66.0/24"]
    )
    error_message = "The subnet layout of the /16 changed; the cql module's fixed addresses depend on it."
  }

  assert {
    condition     = [for r in aws_ec2_subnet_cidr_reservation.data_static : r.cidr_block] == ["10.40.64.240/28", "10.40.65.240/28", "10.40.66.240/28"] && alltrue([for r in aws_ec2_subnet_cidr_reservation.data_static : r.reservation_type == "explicit"])
    error_message = "The top /28 of each data subnet must be explicitly reserved for the ScyllaDB nodes' fixed addresses."
  }

  assert {
    condition     = length(output.public_subnet_ids) == 3 && length(output.service_subnet_ids) == 3 && length(output.data_subnet_ids) == 3
    error_message = "The subnet id outputs must each list three subnets."
  }
}

run "pinned_zones_are_used_as_given" {
  command = plan

  variables {
    availability_zones = ["eu-west-1c", "eu-west-1a", "eu-west-1b"]
  }

  assert {
    condition     = output.availability_zones == tolist(["eu-west-1c", "eu-west-1a", "eu-west-1b"]) && length(data.aws_availability_zones.region) == 0
    error_message = "Pinned zones must be used in the given order, without a lookup."
  }

  assert {
    condition     = [for s in aws_subnet.data : s.availability_zone] == ["eu-west-1c", "eu-west-1a", "eu-west-1b"]
    error_message = "Subnet i must be in pinned zone i."
  }
}

run "public_subnets_are_for_load_balancers_only" {
  command = plan

  assert {
    condition     = alltrue([for s in concat(aws_subnet.service, aws_subnet.data) : s.map_public_ip_on_launch == false])
    error_message = "Private (service and data) subnets must not give public addresses to what launches in them."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false])
    error_message = "Even the public subnets must not hand out public addresses: load balancers and NAT gateways get theirs explicitly."
  }

  assert {
    condition     = aws_route.public_internet.route_table_id == "rtb-public" && aws_route.public_internet.gateway_id == "igw-test" && aws_route.public_internet.destination_cidr_block == "0.0.0.0/0"
    error_message = "The one internet-gateway route must be in the public route table."
  }

  assert {
    condition     = alltrue([for a in aws_route_table_association.public : a.route_table_id == "rtb-public"])
    error_message = "Only the public subnets use the public route table."
  }
}

run "data_subnets_have_no_route_out" {
  command = plan

  assert {
    condition     = length(aws_route_table.data.route) == 0
    error_message = "The data route table must have no routes besides local (and the S3 endpoint's, which AWS adds)."
  }

  assert {
    condition     = length(aws_route_table_association.data) == 3 && alltrue([for a in aws_route_table_association.data : a.route_table_id == "rtb-data"])
    error_message = "All three data subnets must use the data route table."
  }

  assert {
    condition     = alltrue([for r in aws_route.service_nat : r.route_table_id == "rtb-service" && r.nat_gateway_id == "nat-test"])
    error_message = "Default routes through NAT belong to the service route tables only."
  }

  assert {
    condition     = contains(aws_vpc_endpoint.s3.route_table_ids, "rtb-data")
    error_message = "The data tier reaches S3 through the gateway endpoint."
  }
}

run "nat_gateway_per_zone_in_production" {
  command = plan

  variables {
    nat_gateway_per_az = true
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_eip.nat) == 3
    error_message = "nat_gateway_per_az = true must create one NAT gateway per zone."
  }
}

run "single_nat_gateway_in_staging" {
  command = plan

  variables {
    nat_gateway_per_az = false
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1
    error_message = "nat_gateway_per_az = false must create a single NAT gateway."
  }

  assert {
    condition     = length(aws_route.service_nat) == 3
    error_message = "Every service subnet still needs its default route through the one NAT gateway."
  }
}

run "endpoints_and_flow_logs" {
  command = plan

  assert {
    condition     = alltrue([for s in ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "kms", "sts", "monitoring", "ssm", "ssmmessages", "ec2messages"] : contains(keys(aws_vpc_endpoint.interface), s)])
    error_message = "The default interface endpoints are missing one the services or Session Manager need."
  }

  assert {
    condition     = alltrue([for e in aws_vpc_endpoint.interface : e.private_dns_enabled && e.vpc_endpoint_type == "Interface"])
    error_message = "Interface endpoints need private DNS so the regional API names resolve to them."
  }

  assert {
    condition     = aws_flow_log.vpc.traffic_type == "ALL" && aws_flow_log.vpc.log_destination_type == "cloud-watch-logs"
    error_message = "VPC flow logs must record all traffic to CloudWatch Logs."
  }

  assert {
    condition     = aws_cloudwatch_log_group.flow_logs.retention_in_days == 365 && aws_cloudwatch_log_group.flow_logs.kms_key_id == aws_kms_key.flow_logs.arn
    error_message = "The flow log group must be kept a year and encrypted with the module's key."
  }
}

run "service_security_group_egress" {
  command = plan

  assert {
    condition     = aws_vpc_security_group_egress_rule.service_https_out.from_port == 443 && aws_vpc_security_group_egress_rule.service_https_out.to_port == 443 && aws_vpc_security_group_egress_rule.service_https_out.cidr_ipv4 == "0.0.0.0/0"
    error_message = "The service group may leave the VPC on HTTPS only."
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.service_to_vpc.cidr_ipv4 == "10.40.0.0/16"
    error_message = "The service group reaches anything inside the VPC."
  }
}

run "rejects_a_cidr_that_is_not_a_slash_16" {
  command = plan

  variables {
    cidr_block = "10.40.0.0/20"
  }

  expect_failures = [var.cidr_block]
}
