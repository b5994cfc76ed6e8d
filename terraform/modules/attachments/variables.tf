variable "name" {
  description = "Prefix for every resource name, e.g. \"chat-production\"."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 3-32 characters of lower-case letters, digits and single hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "bucket_name" {
  description = "Name of the bucket; null makes \"<name>-attachments-<account id>\" (bucket names are global, so the account id keeps it unique)."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3-63 characters of lower-case letters, digits and hyphens (no dots: TLS to a dotted bucket name fails), starting and ending with a letter or digit."
  }
}

variable "allowed_origins" {
  description = "Origins whose pages may PUT, GET and HEAD objects with presigned URLs (the bucket's CORS rule): the site's public origin, e.g. [\"https://chat.example.com\"]."
  type        = list(string)

  validation {
    condition = length(var.allowed_origins) > 0 && alltrue([
      for o in var.allowed_origins : can(regex("^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$", o))
    ])
    error_message = "allowed_origins must name at least one origin, each https://host[:port] in lower case, with no path, no trailing slash and no wildcard."
  }
}

variable "gateway_task_role_name" {
  description = "Name of the gateways' ECS task role (the services module's gateway_task_role_name); it gets PutObject, GetObject and PutObjectTagging under uploads/, and the key's use through S3."
  type        = string
}

variable "pending_upload_expiry_days" {
  description = "Days after which an upload still tagged chat-upload=pending (never attached to a message) expires. S3 counts from the upload and acts at the next midnight UTC after that, so an unattached upload lives between this and this + 1 days."
  type        = number
  default     = 1

  validation {
    condition     = var.pending_upload_expiry_days >= 1 && var.pending_upload_expiry_days <= 30 && floor(var.pending_upload_expiry_days) == var.pending_upload_expiry_days
    error_message = "pending_upload_expiry_days must be a whole number from 1 to 30."
  }
}

variable "noncurrent_version_expiry_days" {
  description = "Days an overwritten or deleted object version is kept (versioning is on) before it is removed for good."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiry_days >= 1 && var.noncurrent_version_expiry_days <= 365 && floor(var.noncurrent_version_expiry_days) == var.noncurrent_version_expiry_days
    error_message = "noncurrent_version_expiry_days must be a whole number from 1 to 365."
  }
}

variable "cors_max_age_seconds" {
  description = "How long browsers may cache the answer to a preflight request."
  type        = number
  default     = 3000
}

variable "access_logs_bucket" {
  description = "Bucket for S3 server access logs of this bucket, or null for none. The log bucket (and its policy allowing log delivery) is account infrastructure managed elsewhere."
  type        = string
  default     = null
}
