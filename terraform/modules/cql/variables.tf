variable "name" {
  description = "Prefix for every resource name, e.g. \"chat-production\"; also the ScyllaDB cluster_name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "mode" {
  description = "\"ec2\": run a three-node ScyllaDB cluster here. \"external\": create nothing and pass through an existing CQL endpoint (ScyllaDB Cloud, Keyspaces-compatible, another account)."
  type        = string
  default     = "ec2"

  validation {
    condition     = contains(["ec2", "external"], var.mode)
    error_message = "mode must be \"ec2\" or \"external\"."
  }
}

# ---------------------------------------------------------------------------------------------
# mode = "ec2"
# ---------------------------------------------------------------------------------------------

variable "vpc_id" {
  description = "(ec2) VPC of the nodes."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "(ec2) Three subnets in three zones, one node in each (the network module's data_subnet_ids)."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.subnet_ids) == 0 || (length(var.subnet_ids) == 3 && length(distinct(var.subnet_ids)) == 3)
    error_message = "subnet_ids must be three distinct subnets (or empty in external mode)."
  }
}

variable "subnet_cidr_blocks" {
  description = "(ec2, optional) The subnets' ranges, same order as subnet_ids (the network module's data_subnet_cidr_blocks). Empty: looked up."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.subnet_cidr_blocks) == 0 || (length(var.subnet_cidr_blocks) == 3 && alltrue([for c in var.subnet_cidr_blocks : can(cidrhost(c, 0)) && try(tonumber(split("/", c)[1]) <= 27, false)]))
    error_message = "subnet_cidr_blocks must be empty or three IPv4 ranges of /27 or larger."
  }
}

variable "subnet_availability_zones" {
  description = "(ec2, optional) The subnets' zones, same order as subnet_ids (the network module's availability_zones). Empty: looked up."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.subnet_availability_zones) == 0 || length(distinct(var.subnet_availability_zones)) == 3
    error_message = "subnet_availability_zones must be empty or three distinct zone names."
  }
}

variable "client_security_group_ids" {
  description = "(ec2) Security groups allowed to reach CQL (9042, and 19042 for shard-aware drivers), e.g. the network module's service_security_group_id."
  type        = list(string)
  default     = []
}

variable "monitoring_security_group_ids" {
  description = "(ec2) Security groups allowed to scrape ScyllaDB's Prometheus endpoint (9180) and node exporter (9100)."
  type        = list(string)
  default     = []
}

variable "instance_type" {
  description = "(ec2) Node instance type. Must have local NVMe (i4i, i3en, i7ie, im4gn, ...) unless data_volume_gb is set."
  type        = string
  default     = "i4i.xlarge"
}

variable "scylla_ami_name_filter" {
  description = "(ec2) Name pattern of the ScyllaDB machine image; the newest match is used at creation."
  type        = string
  default     = "ScyllaDB 6.2*"
}

variable "scylla_ami_owner" {
  description = "(ec2) AWS account that publishes the ScyllaDB images (ScyllaDB's own)."
  type        = string
  default     = "797456418907"

  validation {
    condition     = can(regex("^[0-9]{12}$", var.scylla_ami_owner))
    error_message = "scylla_ami_owner must be a 12-digit AWS account id."
  }
}

variable "scylla_ami_architecture" {
  description = "(ec2) \"x86_64\" or \"arm64\"; must match instance_type (i4i: x86_64, im4gn/i8g: arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.scylla_ami_architecture)
    error_message = "scylla_ami_architecture must be \"x86_64\" or \"arm64\"."
  }
}

variable "ami_id" {
  description = "(ec2, optional) A specific image id, instead of the newest match of the name filter."
  type        = string
  default     = null
}

variable "root_volume_gb" {
  description = "(ec2) Root volume size (operating system, logs, commit log stays on the data disk)."
  type        = number
  default     = 50

  validation {
    condition     = var.root_volume_gb >= 30
    error_message = "root_volume_gb must be at least 30."
  }
}

variable "data_volume_gb" {
  description = "(ec2) 0: ScyllaDB's data lives on the instance's local NVMe (recommended). Above 0: an encrypted gp3 volume of this size is attached and used instead, for instance types without local disks (e.g. a small staging node)."
  type        = number
  default     = 0

  validation {
    condition     = var.data_volume_gb == 0 || (var.data_volume_gb >= 20 && var.data_volume_gb <= 16384)
    error_message = "data_volume_gb must be 0 or from 20 to 16384."
  }
}

variable "scylla_yaml_overrides" {
  description = "(ec2) Extra scylla.yaml settings merged over the module's (top-level keys replace). E.g. on 2025.x images, which configure tablets with another key: { tablets_mode_for_new_keyspaces = \"disabled\" }. Applies to nodes created afterwards (user data is ignored on existing ones)."
  type        = any
  default     = {}
}

variable "app_username" {
  description = "(ec2) CQL role the services log in as (created by the nodes from the credentials secret)."
  type        = string
  default     = "chat"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,31}$", var.app_username)) && var.app_username != "cassandra"
    error_message = "app_username must be 1-32 lower-case letters, digits or underscores, starting with a letter, and not \"cassandra\"."
  }
}

variable "tls_ca_secret_arn" {
  description = "(ec2, required) Operator-made secret with JSON {\"ca_cert\",\"ca_key\"} (PEM); each node issues its own certificate from it at boot. See README for the openssl and aws commands."
  type        = string
  default     = null
}

variable "tls_ca_secret_kms_key_arn" {
  description = "(ec2, optional) Customer-managed KMS key the CA secret is encrypted with, if not the default aws/secretsmanager key; the nodes get kms:Decrypt on it."
  type        = string
  default     = null
}

variable "tls_ca_certificate_pem" {
  description = "(ec2, required) The same CA's certificate (PEM, public: e.g. file(\"cql-ca.crt\")). Stored in the ca_certificate secret the services read; kept apart from the key so Terraform state never holds the CA key."
  type        = string
  default     = null

  validation {
    condition     = var.tls_ca_certificate_pem == null || can(regex("-----BEGIN CERTIFICATE-----", var.tls_ca_certificate_pem))
    error_message = "tls_ca_certificate_pem must be a PEM certificate."
  }
}

variable "node_certificate_days" {
  description = "(ec2) Validity of the certificates the nodes issue themselves; each node renews its own when under 30 days remain (daily check, and at every start)."
  type        = number
  default     = 365

  validation {
    condition     = var.node_certificate_days >= 60 && var.node_certificate_days <= 825
    error_message = "node_certificate_days must be from 60 to 825."
  }
}

variable "termination_protection" {
  description = "(ec2) Protect the nodes from termination and from stopping through the API (either loses the node's local NVMe data). Turn off before replacing a node or destroying an environment."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "(ec2) Days a deleted secret can still be restored (0 deletes at once, which lets a torn-down staging environment be recreated under the same names)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or from 7 to 30."
  }
}

# ---------------------------------------------------------------------------------------------
# mode = "external"
# ---------------------------------------------------------------------------------------------

variable "external_contact_points" {
  description = "(external, required) host:port contact points of the existing cluster."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.external_contact_points : can(regex("^[^:\\s]+:[0-9]+$", c))])
    error_message = "external_contact_points must be host:port strings."
  }
}

variable "external_local_datacenter" {
  description = "(external, required) The datacenter name the services should prefer (CHAT__CQL__LOCAL_DATACENTER)."
  type        = string
  default     = null
}

variable "external_credentials_secret_arn" {
  description = "(external, required) Secret with JSON {\"username\",\"password\"} for the existing cluster."
  type        = string
  default     = null
}

variable "external_ca_certificate_secret_arn" {
  description = "(external, optional) Secret whose string is the PEM CA certificate the existing cluster's node certificates chain to; null when they chain to a public CA or TLS is off."
  type        = string
  default     = null
}
