# Apply against a mocked AWS provider: nothing is created. Run from the module
# directory: tofu init && tofu test

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "111122223333" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }

  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:eu-west-1:111122223333:chat-test-alarms" }
  }
  mock_resource "aws_cloudwatch_metric_alarm" {
    defaults = { arn = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:chat-test-any" }
  }
}

variables {
  name                 = "chat-test"
  metrics_namespace    = "Chat/chat-test"
  ecs_cluster_name     = "chat-test"
  gateway_service_name = "chat-test-gateway"
  projector_service_names = {
    history = "chat-test-projector-history"
    fanout  = "chat-test-projector-fanout"
  }
  other_ecs_service_names  = ["chat-test-schema-registry"]
  load_balancer_arn_suffix = "net/chat-test-nlb/0123456789abcdef"
  target_group_arn_suffix  = "targetgroup/chat-test-gateway/0123456789abcdef"
  kafka_cluster_arn        = "arn:aws:kafka:eu-west-1:111122223333:cluster/chat-test/11111111-2222-3333-4444-555555555555-2"
  kafka_broker_count       = 3
  redis_cache_cluster_ids  = ["chat-test-001", "chat-test-002"]
}

run "defaults" {
  command = apply

  assert {
    condition     = aws_sns_topic.alarms.kms_master_key_id == aws_kms_key.alarms.arn
    error_message = "The alarm topic is KMS-encrypted."
  }

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 0
    error_message = "No e-mail subscription without alarm_email."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.projector_lag["history"].metric_name == "projector_lag" &&
      aws_cloudwatch_metric_alarm.projector_lag["history"].statistic == "Maximum" &&
      aws_cloudwatch_metric_alarm.projector_lag["history"].namespace == "Chat/chat-test" &&
      aws_cloudwatch_metric_alarm.projector_lag["history"].dimensions.ServiceName == "chat-test-projector-history"
    )
    error_message = "One lag alarm per role on the maximum projector_lag."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.projector_dead_letters["fanout"].threshold == 0 && aws_cloudwatch_metric_alarm.projector_dead_letters["fanout"].statistic == "Sum"
    error_message = "Any dead letter alarms."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.gateway_audit_failures.metric_name == "audit_failures_total" && aws_cloudwatch_metric_alarm.gateway_audit_failures.threshold == 0 && aws_cloudwatch_metric_alarm.gateway_audit_failures.dimensions.ServiceName == "chat-test-gateway"
    error_message = "Any audit record a gateway could not write alarms."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.nlb_unhealthy_hosts.metric_name == "UnHealthyHostCount" && aws_cloudwatch_metric_alarm.nlb_unhealthy_hosts.threshold == 0
    error_message = "Any unhealthy gateway alarms."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.nlb_resets.metric_name == "TCP_ELB_Reset_Count"
    error_message = "A surge of load balancer resets alarms."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.kafka_disk)) == toset(["1", "2", "3"]) && aws_cloudwatch_metric_alarm.kafka_disk["2"].dimensions["Cluster Name"] == "chat-test" && aws_cloudwatch_metric_alarm.kafka_disk["2"].threshold == 80
    error_message = "One disk alarm per broker at 80 %, on the cluster's name."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.redis_cpu) == 2 && length(aws_cloudwatch_metric_alarm.redis_memory) == 2
    error_message = "CPU and memory alarms per cache node."
  }

  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.ecs_running_below_desired)) == toset(["chat-test-gateway", "chat-test-projector-history", "chat-test-projector-fanout", "chat-test-schema-registry"])
    error_message = "Every ECS service has a running-below-desired alarm."
  }

  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.projector_lag : a.alarm_actions == toset(["arn:aws:sns:eu-west-1:111122223333:chat-test-alarms"])])
    error_message = "Alarms notify the topic."
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) == 13
    error_message = "The dashboard has its twelve metric widgets and the alarm widget."
  }
}

run "email" {
  command = apply

  variables {
    alarm_email = "oncall@example.com"
  }

  assert {
    condition     = aws_sns_topic_subscription.email[0].protocol == "email" && aws_sns_topic_subscription.email[0].endpoint == "oncall@example.com"
    error_message = "alarm_email subscribes an address."
  }
}

run "rejects_a_bad_cluster_arn" {
  command = plan

  variables {
    kafka_cluster_arn = "chat-test"
  }

  expect_failures = [var.kafka_cluster_arn]
}
