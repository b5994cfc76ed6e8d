provider "aws" {
  region = var.region

  # Every resource that takes tags gets these; the modules add var.tags on top for
  # resources that do not inherit default_tags (e.g. launch template instances).
  default_tags {
    tags = local.tags
  }
}
