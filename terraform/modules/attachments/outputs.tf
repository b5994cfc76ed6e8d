output "bucket_name" {
  description = "The bucket's name (CHAT__GATEWAY__ATTACHMENTS__BUCKET)."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "The bucket's ARN."
  value       = aws_s3_bucket.this.arn
}

output "region" {
  description = "The bucket's region (CHAT__GATEWAY__ATTACHMENTS__REGION)."
  value       = local.region
}

output "kms_key_arn" {
  description = "Customer-managed key that encrypts the objects."
  value       = aws_kms_key.this.arn
}

output "upload_prefix" {
  description = "Where the gateway puts uploads: <upload_prefix><conversation_id>/<upload_id>. Its role may write only there."
  value       = local.upload_prefix
}

output "pending_tag" {
  description = "The tag a presigned upload carries (x-amz-tagging) until a message attaches it; uploads still carrying it expire after pending_upload_expiry_days."
  value       = { key = local.pending_tag_key, value = local.pending_tag_value }
}
