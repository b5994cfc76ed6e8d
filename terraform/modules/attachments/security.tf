# --- encryption key: every object at rest ---

# Policies are built with jsonencode rather than aws_iam_policy_document, so the tests can
# read the statements back from the plan.
locals {
  key_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        # IAM policies (the gateway's below) grant the use of the key; this lets them.
        Sid       = "AccountAdministersTheKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
    ]
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: attachments at rest (S3)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = jsonencode(local.key_policy)
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-attachments"
  target_key_id = aws_kms_key.this.key_id
}

# --- bucket policy: TLS only ---

locals {
  bucket_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "DenyPlaintext"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
      {
        Sid       = "DenyTlsBelow12"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
        Condition = { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
      },
    ]
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode(local.bucket_policy)

  # A policy written before the public access block could be judged public on the way.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# --- the gateways' access ---

# The gateway signs URLs with its task role's credentials; a browser's PUT or GET through
# such a URL acts with that role's permissions. So the role may store and read objects
# under uploads/ (HeadObject is GetObject's permission), tag them (the pending tag on
# upload, attached on attach), and have S3 use the key for them: nothing else, and no
# DeleteObject or listing.
locals {
  gateway_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "PutGetAndTagUploads"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:GetObject", "s3:PutObjectTagging"]
        Resource = ["${aws_s3_bucket.this.arn}/${local.upload_prefix}*"]
      },
      {
        Sid      = "UseTheKeyThroughS3"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = [aws_kms_key.this.arn]
        Condition = {
          StringEquals = { "kms:ViaService" = "s3.${local.region}.amazonaws.com" }
        }
      },
    ]
  }
}

resource "aws_iam_role_policy" "gateway" {
  name   = "attachments"
  role   = var.gateway_task_role_name
  policy = jsonencode(local.gateway_policy)
}
