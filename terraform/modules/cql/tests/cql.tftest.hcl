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
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"}}]}"
    }
  }

  mock_data "aws_ami" {
    defaults = {
      id           = "ami-0123456789abcdef0"
      architecture = "x86_64"
    }
  }

  mock_data "aws_subnet" {
    defaults = {
      cidr_block        = "10.40.64.0/24"
      availability_zone = "eu-west-1a"
    }
  }

  mock_data "aws_secretsmanager_random_password" {
    defaults = {
      random_password = "mockmockmockmockmockmockmockmockmockmock"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-00000000000e"
      key_id = "00000000-0000-0000-0000-00000000000e"
    }
  }

  mock_resource "aws_secretsmanager_secret" {
    defaults = {
      arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/cql/credentials-AbCdEf"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::111122223333:role/chat-test-scylla-node"
    }
  }

  mock_resource "aws_iam_instance_profile" {
    defaults = {
      arn = "arn:aws:iam::111122223333:instance-profile/chat-test-scylla-node"
    }
  }

  mock_resource "aws_network_interface" {
    defaults = {
      id = "eni-0123456789abcdef0"
    }
  }

  mock_resource "aws_security_group" {
    defaults = {
      id = "sg-0000000000000000c"
    }
  }
}

variables {
  name                      = "chat-test"
  vpc_id                    = "vpc-0123456789abcdef0"
  subnet_ids                = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  subnet_cidr_blocks        = ["10.40.64.0/24", "10.40.65.0/24", "10.40.66.0/24"]
  subnet_availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  client_security_group_ids = ["sg-00000000000000051"]
  tls_ca_secret_arn         = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:chat-test/cql/tls-ca-AbCdEf"
  tls_ca_certificate_pem    = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
}

run "three_nodes_in_three_zones_with_fixed_addresses" {
  command = plan

  assert {
    condition     = length(aws_instance.node) == 3 && length(aws_network_interface.node) == 3
    error_message = "ec2 mode must run exactly three nodes, each with its own interface."
  }

  assert {
    condition     = [for n in output.nodes : n.availability_zone] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    error_message = "The three nodes must be in three different zones."
  }

  assert {
    condition     = tolist([for e in aws_network_interface.node : e.subnet_id]) == tolist(var.subnet_ids)
    error_message = "Node i must sit in subnet i."
  }

  assert {
    condition     = [for e in aws_network_interface.node : one(e.private_ips)] == ["10.40.64.244", "10.40.65.244", "10.40.66.244"]
    error_message = "Each node's address must be host 4 of the top /28 of its subnet (the network module reserves that block)."
  }

  assert {
    condition     = output.contact_points == tolist(["10.40.64.244:9042", "10.40.65.244:9042", "10.40.66.244:9042"])
    error_message = "Contact points must be the nodes' fixed addresses on 9042."
  }

  assert {
    condition     = output.local_datacenter == "eu-west-1"
    error_message = "The datacenter name must be the region (GossipingPropertyFileSnitch, dc = region)."
  }

  assert {
    condition = alltrue([
      for i, n in aws_instance.node :
      strcontains(n.user_data, "rack=${var.subnet_availability_zones[i]}") && strcontains(n.user_data, "dc=eu-west-1")
    ])
    error_message = "Each node's rack must be its zone and its dc the region."
  }
}

run "every_node_seeds_with_all_three_addresses" {
  command = plan

  assert {
    condition = alltrue([
      for n in aws_instance.node :
      yamldecode(split("--==chat-scylla-node==", n.user_data)[1]).scylla_yaml.seed_provider[0].parameters[0].seeds == "10.40.64.244,10.40.65.244,10.40.66.244"
    ])
    error_message = "Every node must list all three fixed addresses as seeds."
  }
}

run "imdsv2_required" {
  command = plan

  assert {
    condition     = alltrue([for n in aws_instance.node : n.metadata_options[0].http_tokens == "required" && n.metadata_options[0].http_endpoint == "enabled"])
    error_message = "The instance metadata service must require session tokens (IMDSv2)."
  }

  assert {
    condition     = alltrue([for n in aws_instance.node : n.metadata_options[0].http_put_response_hop_limit == 1])
    error_message = "IMDS tokens must not travel beyond the instance (hop limit 1)."
  }
}

run "volumes_encrypted_with_the_modules_key" {
  command = plan

  assert {
    condition     = alltrue([for n in aws_instance.node : n.root_block_device[0].encrypted && n.root_block_device[0].kms_key_id == aws_kms_key.node[0].arn])
    error_message = "Root volumes must be encrypted with the module's key."
  }

  assert {
    condition     = alltrue([for n in aws_instance.node : length(n.ebs_block_device) == 0])
    error_message = "By default the data lives on local NVMe (hardware-encrypted), with no extra EBS volume."
  }
}

run "attached_data_volumes_are_encrypted_too" {
  command = plan

  variables {
    instance_type  = "m7i.large"
    data_volume_gb = 200
  }

  assert {
    condition     = alltrue([for n in aws_instance.node : length(n.ebs_block_device) == 1 && alltrue([for v in n.ebs_block_device : v.encrypted && v.kms_key_id == aws_kms_key.node[0].arn])])
    error_message = "An attached data volume must be encrypted with the module's key."
  }

  assert {
    condition     = yamldecode(split("--==chat-scylla-node==", aws_instance.node[0].user_data)[1]).data_device == "attached"
    error_message = "With a data volume the image must build its RAID from the attached volume."
  }
}

run "no_public_addresses" {
  command = plan

  assert {
    condition     = alltrue([for i, n in aws_instance.node : one([for ni in n.network_interface : ni.network_interface_id if ni.device_index == 0]) == aws_network_interface.node[i].id])
    error_message = "Each node must use the module's private interface as its primary one (no launch-time public address)."
  }

  assert {
    condition     = alltrue([for n in aws_instance.node : n.associate_public_ip_address == false])
    error_message = "No node may have a public address."
  }

  assert {
    condition     = alltrue([for c in output.contact_points : can(regex("^10\\.40\\.", c))])
    error_message = "Contact points must be private addresses inside the VPC."
  }
}

run "protected_from_termination_and_stop" {
  command = plan

  assert {
    condition     = alltrue([for n in aws_instance.node : n.disable_api_termination && n.disable_api_stop])
    error_message = "Nodes keep their data on local NVMe: terminating or stopping one through the API must be blocked by default."
  }
}

run "tls_and_authentication_configured" {
  command = plan

  assert {
    condition = alltrue([
      for n in aws_instance.node : (
        yamldecode(split("--==chat-scylla-node==", n.user_data)[1]).scylla_yaml.client_encryption_options.enabled == true &&
        yamldecode(split("--==chat-scylla-node==", n.user_data)[1]).scylla_yaml.server_encryption_options.internode_encryption == "all" &&
        yamldecode(split("--==chat-scylla-node==", n.user_data)[1]).scylla_yaml.authenticator == "PasswordAuthenticator" &&
        yamldecode(split("--==chat-scylla-node==", n.user_data)[1]).scylla_yaml.authorizer == "CassandraAuthorizer" &&
        yamldecode(split("--==chat-scylla-node==", n.user_data)[1]).scylla_yaml.endpoint_snitch == "GossipingPropertyFileSnitch"
      )
    ])
    error_message = "Every node must require TLS from clients and between nodes, and password authentication with authorization."
  }

  assert {
    condition     = yamldecode(split("--==chat-scylla-node==", aws_instance.node[0].user_data)[1]).scylla_yaml.enable_tablets == false
    error_message = "Tablets must be off for new keyspaces: the store uses lightweight transactions."
  }

  assert {
    condition     = yamldecode(split("--==chat-scylla-node==", aws_instance.node[0].user_data)[1]).start_scylla_on_first_boot == false
    error_message = "The image must not start ScyllaDB before the node certificate exists."
  }

  assert {
    condition     = !strcontains(aws_instance.node[0].user_data, "mockmockmockmockmockmock")
    error_message = "The user data (logged by the image, stored in clear by the provider) must not contain the password."
  }

  assert {
    condition     = aws_secretsmanager_secret_version.ca_certificate[0].secret_string == var.tls_ca_certificate_pem
    error_message = "The CA certificate secret must hold the operator's CA certificate."
  }
}

run "instance_role_for_session_manager_and_secrets" {
  command = plan

  assert {
    condition     = aws_iam_role_policy_attachment.node_ssm[0].policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    error_message = "Shell access is through Session Manager."
  }

  assert {
    condition     = alltrue([for n in aws_instance.node : n.iam_instance_profile == aws_iam_instance_profile.node[0].name])
    error_message = "Nodes need the instance profile (their only credentials)."
  }

  assert {
    condition     = aws_secretsmanager_secret.credentials[0].kms_key_id == aws_kms_key.node[0].arn
    error_message = "The credentials secret must be encrypted with the module's key."
  }
}

run "clients_reach_cql_ports_only" {
  command = plan

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.clients_cql : "${r.referenced_security_group_id}:${r.from_port}-${r.to_port}"]) == toset(["sg-00000000000000051:9042-9042", "sg-00000000000000051:19042-19042"])
    error_message = "Clients may reach 9042 and 19042 (both TLS), nothing else."
  }
}

run "subnets_looked_up_when_not_given" {
  command = plan

  variables {
    subnet_cidr_blocks        = []
    subnet_availability_zones = []
  }

  assert {
    condition     = length(data.aws_subnet.node) == 3 && length(aws_instance.node) == 3
    error_message = "Without their ranges and zones, the module must look the three subnets up."
  }
}

run "external_mode_creates_no_instances" {
  command = plan

  variables {
    mode                            = "external"
    vpc_id                          = null
    subnet_ids                      = []
    subnet_cidr_blocks              = []
    subnet_availability_zones       = []
    tls_ca_secret_arn               = null
    tls_ca_certificate_pem          = null
    external_contact_points         = ["node-0.cql.example.net:9142", "node-1.cql.example.net:9142"]
    external_local_datacenter       = "AWS_EU_WEST_1"
    external_credentials_secret_arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:external-cql-AbCdEf"
  }

  assert {
    condition     = length(aws_instance.node) == 0 && length(aws_network_interface.node) == 0 && length(data.aws_ami.scylla) == 0
    error_message = "External mode must not create (or look up images for) any node."
  }

  assert {
    condition     = length(aws_security_group.node) == 0 && length(aws_kms_key.node) == 0 && length(aws_secretsmanager_secret.credentials) == 0 && length(aws_iam_role.node) == 0
    error_message = "External mode must create nothing at all."
  }

  assert {
    condition     = output.contact_points == tolist(["node-0.cql.example.net:9142", "node-1.cql.example.net:9142"]) && output.local_datacenter == "AWS_EU_WEST_1"
    error_message = "External mode must pass the external endpoint through."
  }

  assert {
    condition     = output.credentials_secret_arn == "arn:aws:secretsmanager:eu-west-1:111122223333:secret:external-cql-AbCdEf" && output.ca_certificate_secret_arn == null && output.security_group_id == null
    error_message = "External mode passes the credentials secret through and has no CA secret or security group of its own."
  }
}

run "external_mode_needs_an_endpoint" {
  command = plan

  variables {
    mode                   = "external"
    subnet_ids             = []
    tls_ca_secret_arn      = null
    tls_ca_certificate_pem = null
  }

  expect_failures = [output.contact_points]
}

run "ec2_mode_needs_the_ca" {
  command = plan

  variables {
    tls_ca_secret_arn = null
  }

  expect_failures = [aws_network_interface.node]
}
