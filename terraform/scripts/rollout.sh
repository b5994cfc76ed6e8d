#!/usr/bin/env bash
# Roll a deployment onto the task definitions the last `tofu apply` registered.
#
#   terraform/scripts/rollout.sh ENV_DIR [--skip-init] [--timeout SECONDS]
#
#   ENV_DIR      an environment directory, e.g. terraform/environments/staging, already
#                applied (its outputs are read with `tofu output`)
#   --skip-init  move the services without running `chatctl init` first (for a change
#                that touches no topic, table or schema, e.g. a task size)
#   --timeout    how long each wait may take (default 1800 s)
#
# Steps:
#   1. Wait until the schema registry's service is stable, then run the `chatctl init`
#      task definition's newest revision once (aws ecs run-task):
#      it creates the topics, migrates the CQL keyspace and registers the schemas, and is
#      safe to run on every deploy.
#   2. Wait for it to stop and require exit code 0; otherwise stop here, with the
#      services untouched.
#   3. Move every service (the projector roles, then the gateway) to the newest revision
#      of its own task definition family, with a new deployment.
#   4. Wait until every deployment completed. A deployment the circuit breaker rolled
#      back counts as a failure.
#
# Needs: the AWS CLI v2 with credentials for the deployment's account, and tofu (or
# TOFU=terraform). Environment: TOFU (default tofu), AWS (default aws).

set -euo pipefail

TOFU="${TOFU:-tofu}"
AWS="${AWS:-aws}"

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
log() { printf '%s rollout: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

env_dir=""
skip_init=false
timeout=1800
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-init) skip_init=true ;;
    --timeout) shift; timeout="${1:?--timeout needs seconds}" ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) [ -z "$env_dir" ] || die "one environment directory only"; env_dir="$1" ;;
  esac
  shift
done
[ -n "$env_dir" ] || usage
[ -d "$env_dir" ] || die "$env_dir is not a directory"
command -v "$TOFU" >/dev/null || die "$TOFU not found (set TOFU=terraform to use Terraform)"
command -v "$AWS" >/dev/null || die "$AWS not found (the AWS CLI v2)"

output() { "$TOFU" -chdir="$env_dir" output -raw "$1"; }

region="$(output region)"
cluster="$(output ecs_cluster_name)"
init_family="$(output init_task_definition_family)"
init_network="$(output init_network_configuration)"
registry_service="$(output registry_service_name)"
read -r -a services <<<"$(output rollout_service_names)"
[ "${#services[@]}" -gt 0 ] || die "no services in the rollout_service_names output"

ecs() { "$AWS" ecs --region "$region" "$@"; }

# --- 1 and 2: chatctl init ---------------------------------------------------------------

run_init() {
  log "running $init_family (chatctl init) in $cluster"
  local task exit_code reason status deadline
  task="$(ecs run-task \
    --cluster "$cluster" \
    --task-definition "$init_family" \
    --launch-type FARGATE \
    --count 1 \
    --started-by rollout.sh \
    --network-configuration "$init_network" \
    --query 'tasks[0].taskArn' --output text)"
  if [ -z "$task" ] || [ "$task" = "None" ]; then
    die "run-task started no task (see: $AWS ecs run-task ... failures)"
  fi
  log "init task $task"

  deadline=$(($(date +%s) + timeout))
  while :; do
    status="$(ecs describe-tasks --cluster "$cluster" --tasks "$task" \
      --query 'tasks[0].lastStatus' --output text)"
    [ "$status" = "STOPPED" ] && break
    [ "$(date +%s)" -lt "$deadline" ] || die "init task still $status after ${timeout}s (task $task)"
    sleep 10
  done

  exit_code="$(ecs describe-tasks --cluster "$cluster" --tasks "$task" \
    --query "tasks[0].containers[?name=='chatctl'] | [0].exitCode" --output text)"
  reason="$(ecs describe-tasks --cluster "$cluster" --tasks "$task" \
    --query 'tasks[0].stoppedReason' --output text)"
  if [ "$exit_code" != "0" ]; then
    log "init task stopped: $reason"
    die "chatctl init exited with '$exit_code'; services left as they were. Its output is in the log group /ecs/$cluster/init (stream init/chatctl/${task##*/})"
  fi
  log "chatctl init exited 0"
}

# --- 3: services onto their newest task definitions ----------------------------------------

declare -A target_definition=()

update_service() {
  local service="$1" current family newest
  current="$(ecs describe-services --cluster "$cluster" --services "$service" \
    --query 'services[0].taskDefinition' --output text)"
  if [ -z "$current" ] || [ "$current" = "None" ]; then
    die "service $service not found in $cluster"
  fi
  family="${current##*/}"
  family="${family%:*}"
  newest="$(ecs describe-task-definition --task-definition "$family" \
    --query 'taskDefinition.taskDefinitionArn' --output text)"
  log "$service: ${current##*/} -> ${newest##*/}"
  ecs update-service --cluster "$cluster" --service "$service" \
    --task-definition "$newest" --force-new-deployment \
    --query 'service.serviceName' --output text >/dev/null
  target_definition["$service"]="$newest"
}

# --- 4: wait for every deployment ----------------------------------------------------------

# wait_stable SERVICE...: until each service's primary deployment has completed with all
# its tasks running. A service rollout.sh moved must also still be on the task definition
# it was moved to (a circuit-breaker rollback puts it back on the previous one).
wait_stable() {
  local deadline pending service state definition running desired
  deadline=$(($(date +%s) + timeout))
  while :; do
    pending=()
    for service in "$@"; do
      read -r state definition running desired < <(ecs describe-services \
        --cluster "$cluster" --services "$service" \
        --query "services[0].[deployments[?status=='PRIMARY'] | [0].rolloutState, deployments[?status=='PRIMARY'] | [0].taskDefinition, runningCount, desiredCount]" \
        --output text)
      local target="${target_definition[$service]:-}"
      if [ "$state" = "FAILED" ] || { [ -n "$target" ] && [ "$definition" != "$target" ]; }; then
        local wanted="${target:-$definition}"
        die "$service: the deployment of ${wanted##*/} failed (circuit breaker; now on ${definition##*/}). See: $AWS ecs describe-services --cluster $cluster --services $service"
      fi
      if [ "$state" != "COMPLETED" ] || [ "$running" != "$desired" ]; then
        pending+=("$service($state $running/$desired)")
      fi
    done
    [ "${#pending[@]}" -eq 0 ] && return 0
    [ "$(date +%s)" -lt "$deadline" ] || die "not stable after ${timeout}s: ${pending[*]}"
    log "waiting: ${pending[*]}"
    sleep 15
  done
}

if $skip_init; then
  log "skipping chatctl init (--skip-init)"
else
  # chatctl init registers the schemas: the registry must be serving first (on the
  # first deployment it starts in the same apply).
  log "waiting for the schema registry ($registry_service)"
  wait_stable "$registry_service"
  run_init
fi

for service in "${services[@]}"; do
  update_service "$service"
done

wait_stable "${services[@]}"
log "done: ${services[*]} on their newest task definitions"
