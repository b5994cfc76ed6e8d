variable "region" {
  description = "AWS region of the deployment, e.g. \"eu-west-1\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "certificate_arn" {
  description = "ACM certificate (in var.region) for the public name of the gateways, used by the load balancer's TLS listener."
  type        = string
}

variable "public_origin" {
  description = "The site's public origin, https://<the certificate's name>, e.g. \"https://chat.example.com\": the one origin whose pages may upload to and download from the attachments bucket (CORS)."
  type        = string

  validation {
    condition     = can(regex("^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$", var.public_origin))
    error_message = "public_origin must be https://host[:port] in lower case, with no path and no trailing slash."
  }
}

variable "image_tag" {
  description = "Image tag of chat-gateway, chat-projector and chatctl in the deployment's ECR repositories (e.g. the git commit)."
  type        = string
}

variable "allowed_ingress_cidrs" {
  description = "IPv4 CIDRs allowed to reach the load balancer on 443 (staging: usually the office and CI)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic, or null."
  type        = string
  default     = null
}

variable "vpc_cidr_block" {
  description = "CIDR of the deployment's VPC."
  type        = string
  default     = "10.41.0.0/16"
}

variable "cpu_architecture" {
  description = "CPU architecture of the chat tasks: ARM64 (Graviton) or X86_64; the images must be built for it."
  type        = string
  default     = "ARM64"
}

variable "kafka_partitions" {
  description = "Partitions of every platform topic (fixed for a topic's life; the most tasks a projector role can use)."
  type        = number
  default     = 12
}

variable "kafka_ebs_volume_gb" {
  description = "EBS volume of each MSK broker (GiB). The platform's topics keep their records forever."
  type        = number
  default     = 250
}

variable "cql_mode" {
  description = "\"ec2\": ScyllaDB on three i4i instances of this deployment; \"external\": an existing CQL cluster (set the cql_external_* variables)."
  type        = string
  default     = "ec2"
}

variable "cql_tls_ca_secret_arn" {
  description = "ec2 mode: an operator-created secret with JSON {\"ca_cert\",\"ca_key\"} from which each ScyllaDB node issues its certificate (see the cql module's README)."
  type        = string
  default     = null
}

variable "cql_tls_ca_certificate_pem" {
  description = "ec2 mode: that CA's certificate alone (PEM; public). The services verify the nodes with it; Terraform never reads the CA's key."
  type        = string
  default     = null
}

variable "cql_external_contact_points" {
  description = "external mode: host:9042 of the existing cluster's nodes."
  type        = list(string)
  default     = []
}

variable "cql_external_local_datacenter" {
  description = "external mode: the datacenter the services should prefer."
  type        = string
  default     = null
}

variable "cql_external_credentials_secret_arn" {
  description = "external mode: secret with JSON {\"username\",\"password\"} of the application's role."
  type        = string
  default     = null
}

variable "cql_external_ca_certificate_secret_arn" {
  description = "external mode: secret whose string is the PEM CA of the nodes' certificates, or null for public roots."
  type        = string
  default     = null
}

variable "webhook_url" {
  description = "https:// URL the webhook role POSTs notifications to, or null to leave the role out."
  type        = string
  default     = null
}

variable "admin_api_enabled" {
  description = "The gateways' admin API (POST /admin/v1/users/{id}/erase on the ops port 9180, reachable only from inside the VPC): its bearer token is generated into Secrets Manager (output gateway_admin_token_secret_arn). false: no token, no admin API."
  type        = bool
  default     = true
}

variable "compliance_retention_days" {
  description = "Days after which message content becomes unreadable (crypto-shredding: the data keys of older key periods are destroyed). 0 keeps it forever; otherwise at least compliance_key_period_days. Above 0, a daily scheduled task runs `chatctl retention apply`."
  type        = number
  default     = 0
}

variable "compliance_conversation_retention_enabled" {
  description = "Whether the retention group admins set on their conversations (protocol v1.3) is applied: true runs the daily `chatctl retention apply` even when compliance_retention_days is 0. False: with compliance_retention_days 0 there is no daily task, and a conversation's retention is applied only when an operator runs the command."
  type        = bool
  default     = true
}

variable "compliance_conversation_retention_min_days" {
  description = "The shortest retention a group admin may set on a conversation, in days (at least 1)."
  type        = number
  default     = 1
}

variable "compliance_conversation_retention_max_days" {
  description = "The longest retention a group admin may set on a conversation, in days; 0 (the default) sets no upper limit, otherwise at least compliance_conversation_retention_min_days."
  type        = number
  default     = 0
}

variable "compliance_key_period_days" {
  description = "Days one per-user data key seals (1 to 366); retention and erasure destroy whole periods. Choose it before the first message and keep it: the services number the periods by it."
  type        = number
  default     = 30
}

variable "compliance_key_cache_secs" {
  description = "How long each process keeps an unwrapped data key. An erasure reaches a process that cached the key within this; a longer cache makes far fewer KMS Decrypt requests (terraform/README.md, \"Monthly cost\")."
  type        = number
  default     = 60
}

variable "log_retention_days" {
  description = "Retention of the deployment's log groups."
  type        = number
  default     = 30
}

variable "extra_environment" {
  description = "More non-secret CHAT__* variables for every chat container."
  type        = map(string)
  default     = {}
}

variable "gateway_environment" {
  description = "More non-secret CHAT__GATEWAY__* variables for the gateways (e.g. CHAT__GATEWAY__WEB_DIR, OIDC)."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "More tags for every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}
