data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region    = data.aws_region.current.name
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id

  bucket_name = coalesce(var.bucket_name, "${var.name}-attachments-${local.account}")

  # The gateway's contract: a browser PUTs an upload to uploads/<conversation_id>/<upload_id>
  # through a presigned URL that carries the tag below (x-amz-tagging, signed, so it
  # cannot be left out); when a message attaches the upload, the gateway replaces the
  # tag set (PutObjectTagging) with chat-upload=attached. An upload still pending after
  # pending_upload_expiry_days expires.
  upload_prefix     = "uploads/"
  pending_tag_key   = "chat-upload"
  pending_tag_value = "pending"
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication is disaster recovery the platform does not have for any store yet (README, Known gaps); versioning keeps it possible later.
  #checkov:skip=CKV2_AWS_62:No consumer of object events: the gateway learns of an upload when the client sends the message that attaches it.
  bucket = local.bucket_name
  tags   = var.tags
}

# Objects belong to the bucket's account whoever wrote them, and ACLs are off: access is
# IAM and the bucket policy alone.
resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Versioning: uploads are written once at a fresh key and never meant to change, but the
# gateway's role may PUT any key under uploads/, so a bug (or a stolen URL's reuse within
# its minutes) could overwrite an attachment. With versioning the old bytes stay for
# noncurrent_version_expiry_days and can be restored; the cost is small because nothing
# is overwritten in normal operation.
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    # One data key per bucket for a while instead of a KMS request per object: fewer
    # KMS calls (cost, and the gateway role's request rate), same encryption.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  # Parts of a multipart upload that never completed are billed until aborted.
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  # Uploads no message ever attached: still tagged pending after the expiry. The
  # current version gets a delete marker, and the version it hides goes one day later.
  rule {
    id     = "expire-unattached-uploads"
    status = "Enabled"

    filter {
      and {
        prefix = local.upload_prefix
        tags   = { (local.pending_tag_key) = local.pending_tag_value }
      }
    }

    expiration {
      days = var.pending_upload_expiry_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  # Overwritten or deleted versions of anything else, and the delete markers left once
  # no version is behind them.
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiry_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  # Lifecycle rules on versions need versioning configured first.
  depends_on = [aws_s3_bucket_versioning.this]
}

# Browsers on the site PUT uploads and GET/HEAD attachments straight from the bucket with
# presigned URLs; nothing else is allowed cross-origin. Any request header may be sent
# (Content-Type, x-amz-tagging, checksums): the signature decides what is accepted.
# ETag is readable so the client can check what it stored.
resource "aws_s3_bucket_cors_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  cors_rule {
    allowed_methods = ["PUT", "GET", "HEAD"]
    allowed_origins = var.allowed_origins
    allowed_headers = ["*"]
    expose_headers  = ["ETag"]
    max_age_seconds = var.cors_max_age_seconds
  }
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_logs_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_logs_bucket
  target_prefix = "s3/${local.bucket_name}/"
}
