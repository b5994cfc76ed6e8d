# One repository per binary. Tags are immutable, so a tag names one build forever and a
# task definition that names it always runs the same bytes (rollbacks included).

locals {
  repositories = toset(["chat-gateway", "chat-projector", "chatctl"])
}

resource "aws_ecr_repository" "this" {
  for_each = local.repositories

  # Prefixed with the deployment's name so staging and production can share an account.
  name                 = "${var.name}/${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.this.arn
  }

  tags = var.tags
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each   = aws_ecr_repository.this
  repository = each.value.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged layers left by failed pushes"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 14
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest ${var.ecr_keep_images} images (enough to roll back)"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.ecr_keep_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

locals {
  image = {
    gateway   = coalesce(var.image_uris.gateway, "${aws_ecr_repository.this["chat-gateway"].repository_url}:${var.image_tag}")
    projector = coalesce(var.image_uris.projector, "${aws_ecr_repository.this["chat-projector"].repository_url}:${var.image_tag}")
    chatctl   = coalesce(var.image_uris.chatctl, "${aws_ecr_repository.this["chatctl"].repository_url}:${var.image_tag}")
  }
}
