# tflint's bundled Terraform-language rules (no cloud-specific plugin: those are
# downloaded from a release host this project's CI does not reach). `all` adds, to the
# recommended set, documented and typed variables and outputs, naming conventions and
# the standard module structure (main.tf, variables.tf, outputs.tf in every module).
config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}

# Environments keep their provider configuration in providers.tf, which the standard
# module structure rule does not know; everything else it checks still applies.
