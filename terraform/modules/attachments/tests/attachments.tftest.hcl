# Plan/apply against a mocked AWS provider: no credentials, nothing created.
# Run from the module directory: tofu init && tofu test

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-0000000000a7"
      key_id = "00000000-0000-0000-0000-0000000000a7"
    }
  }
  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "chat-test-attachments-111122223333"
      arn = "arn:aws:s3:::chat-test-attachments-111122223333"
    }
  }
}

variables {
  name                   = "chat-test"
  allowed_origins        = ["https://chat.example.com"]
  gateway_task_role_name = "chat-test-gateway-task"
}

run "private_and_owned_by_the_account" {
  command = apply

  assert {
    condition     = aws_s3_bucket.this.bucket == "chat-test-attachments-111122223333" && output.bucket_name == aws_s3_bucket.this.bucket
    error_message = "The bucket is named <name>-attachments-<account id>, and that is the output."
  }

  assert {
    condition = (
      aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.block_public_policy &&
      aws_s3_bucket_public_access_block.this.ignore_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets
    )
    error_message = "All four public access blocks must be on."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "Object ownership must be BucketOwnerEnforced (ACLs off)."
  }

  assert {
    condition     = output.region == "eu-west-1" && output.bucket_arn == "arn:aws:s3:::chat-test-attachments-111122223333"
    error_message = "The region and the ARN are outputs."
  }
}

run "encrypted_with_the_modules_key_and_a_bucket_key" {
  command = apply

  assert {
    condition = alltrue([
      for r in aws_s3_bucket_server_side_encryption_configuration.this.rule :
      one(r.apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" &&
      one(r.apply_server_side_encryption_by_default).kms_master_key_id == aws_kms_key.this.arn &&
      r.bucket_key_enabled
    ])
    error_message = "Default encryption must be SSE-KMS with the module's key, bucket key on."
  }

  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "The key must rotate."
  }
}

run "versioned" {
  command = apply

  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be on."
  }
}

run "lifecycle" {
  command = apply

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.abort_incomplete_multipart_upload[0].days_after_initiation
      if r.id == "abort-incomplete-multipart-uploads" && r.status == "Enabled"
    ]) == 1
    error_message = "Incomplete multipart uploads must be aborted after a day."
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.this.rule : (
        r.filter[0].and[0].prefix == "uploads/" &&
        r.filter[0].and[0].tags == tomap({ "chat-upload" = "pending" }) &&
        r.expiration[0].days == 1 &&
        r.noncurrent_version_expiration[0].noncurrent_days == 1
      ) if r.id == "expire-unattached-uploads" && r.status == "Enabled"
    ])
    error_message = "Uploads under uploads/ still tagged chat-upload=pending must expire after a day, and their hidden version a day later."
  }

  assert {
    condition = one([
      for r in aws_s3_bucket_lifecycle_configuration.this.rule : (
        r.noncurrent_version_expiration[0].noncurrent_days == 30 && r.expiration[0].expired_object_delete_marker
      ) if r.id == "expire-noncurrent-versions" && r.status == "Enabled"
    ])
    error_message = "Noncurrent versions must go after 30 days, and lone delete markers with them."
  }

  assert {
    condition     = output.upload_prefix == "uploads/" && output.pending_tag == { key = "chat-upload", value = "pending" }
    error_message = "The upload prefix and the pending tag are outputs (the gateway's contract)."
  }
}

run "tls_only" {
  command = apply

  assert {
    condition = anytrue([
      for s in jsondecode(aws_s3_bucket_policy.this.policy).Statement :
      s.Effect == "Deny" && s.Principal == "*" && s.Action == "s3:*" &&
      s.Condition == { Bool = { "aws:SecureTransport" = "false" } } &&
      toset(s.Resource) == toset([aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"])
    ])
    error_message = "The bucket policy must deny every request without TLS, on the bucket and its objects."
  }
}

run "cors_for_the_sites_origin_only" {
  command = apply

  assert {
    condition = (
      length(aws_s3_bucket_cors_configuration.this.cors_rule) == 1 &&
      toset(one(aws_s3_bucket_cors_configuration.this.cors_rule).allowed_origins) == toset(["https://chat.example.com"]) &&
      toset(one(aws_s3_bucket_cors_configuration.this.cors_rule).allowed_methods) == toset(["PUT", "GET", "HEAD"]) &&
      contains(one(aws_s3_bucket_cors_configuration.this.cors_rule).expose_headers, "ETag")
    )
    error_message = "One CORS rule: PUT, GET and HEAD from the site's origin, ETag exposed."
  }
}

run "the_gateway_may_put_get_and_tag_uploads_only" {
  command = apply

  assert {
    condition     = aws_iam_role_policy.gateway.role == "chat-test-gateway-task"
    error_message = "The policy goes on the gateways' task role."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.gateway.policy).Statement :
      s.Effect == "Allow" &&
      toset(s.Action) == toset(["s3:PutObject", "s3:GetObject", "s3:PutObjectTagging"]) &&
      s.Resource == ["arn:aws:s3:::chat-test-attachments-111122223333/uploads/*"]
    ])
    error_message = "The gateway may put, get and tag objects under uploads/ of this bucket, and nothing else in S3."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.gateway.policy).Statement :
      alltrue([for a in flatten([s.Action]) : !strcontains(a, "*") && a != "s3:DeleteObject" && a != "s3:ListBucket"])
    ])
    error_message = "No wildcard action, no delete, no listing."
  }

  assert {
    condition = anytrue([
      for s in jsondecode(aws_iam_role_policy.gateway.policy).Statement :
      toset(s.Action) == toset(["kms:GenerateDataKey", "kms:Decrypt"]) && s.Resource == [aws_kms_key.this.arn] &&
      s.Condition == { StringEquals = { "kms:ViaService" = "s3.eu-west-1.amazonaws.com" } }
    ])
    error_message = "The gateway may use the bucket's key, only through S3."
  }
}

run "bucket_name_override" {
  command = plan

  variables {
    bucket_name = "acme-chat-files"
  }

  assert {
    condition     = aws_s3_bucket.this.bucket == "acme-chat-files"
    error_message = "bucket_name replaces the default name."
  }
}

run "rejects_plain_http_and_wildcard_origins" {
  command = plan

  variables {
    allowed_origins = ["http://chat.example.com", "https://*.example.com"]
  }

  expect_failures = [var.allowed_origins]
}
