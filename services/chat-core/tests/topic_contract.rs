//! The topic contract (`schemas/asyncapi.json`) against what the code does, with no
//! server: every topic `chatctl topics create` makes is a channel and every channel is a
//! topic; each channel's Kafka settings are the ones `topics.rs` configures; each Avro
//! payload points at a schema file that exists, has the record name the document says
//! and is the schema this build registers for the topic; and every branch of the
//! ConversationEvent payload union is a documented message, and nothing else is.
//!
//! Everything is derived from `topics.rs` and the `.avsc` files, never listed here, so a
//! new topic or a new union branch fails this test until the document describes it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chat_core::config::Settings;
use chat_core::topics::{TopicSpec, Topics};
use serde_json::Value;

/// The prefix the document's channel addresses assume (`kafka.topic_prefix`'s default).
const DEFAULT_PREFIX: &str = "chat.";
const AVRO_FORMAT_PREFIX: &str = "application/vnd.apache.avro";

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

fn document() -> Value {
    let doc = read_json(&schemas_dir().join("asyncapi.json"));
    assert_eq!(
        doc["asyncapi"], "3.0.0",
        "schemas/asyncapi.json must be an AsyncAPI 3.0.0 document"
    );
    doc
}

/// What `chatctl topics create` makes with the built-in settings and the default prefix.
fn topic_specs() -> Vec<TopicSpec> {
    // An empty environment: the built-in defaults only, whatever the machine has set.
    let settings = Settings::load_from(&BTreeMap::new()).expect("the built-in settings load");
    Topics::new(DEFAULT_PREFIX).specs(&settings.kafka)
}

/// Follow a local `$ref` (`#/a/b`) until a value without one.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            return value;
        };
        value = doc.pointer(pointer).unwrap_or_else(|| {
            panic!("schemas/asyncapi.json: `$ref: {reference}` points at nothing")
        });
    }
    panic!("schemas/asyncapi.json: a `$ref` chain longer than 16 (a loop?)");
}

/// Each channel: (its id in the document, its address, the channel object).
fn channels(doc: &Value) -> Vec<(String, String, &Value)> {
    let map = doc["channels"]
        .as_object()
        .expect("schemas/asyncapi.json has a `channels` object");
    map.iter()
        .map(|(id, channel)| {
            let channel = resolve(doc, channel);
            let address = channel["address"]
                .as_str()
                .unwrap_or_else(|| panic!("channel `{id}` has no `address`"))
                .to_string();
            (id.clone(), address, channel)
        })
        .collect()
}

/// A channel's messages: (key in the channel, the resolved message object).
fn messages<'a>(doc: &'a Value, channel: &'a Value) -> Vec<(String, &'a Value)> {
    channel["messages"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(key, message)| (key.clone(), resolve(doc, message)))
                .collect()
        })
        .unwrap_or_default()
}

/// An Avro message's schema file, relative to `schemas/`, if its payload is Avro.
/// Accepts AsyncAPI 3's multi-format schema object (`payload: {schemaFormat, schema:
/// {$ref}}`) and the older form (`schemaFormat` beside `payload: {$ref}`).
fn avro_file(message: &Value) -> Option<String> {
    let payload = &message["payload"];
    let format = payload["schemaFormat"]
        .as_str()
        .or_else(|| message["schemaFormat"].as_str())?;
    if !format.starts_with(AVRO_FORMAT_PREFIX) {
        return None;
    }
    let reference = payload["schema"]["$ref"]
        .as_str()
        .or_else(|| payload["$ref"].as_str())?;
    Some(reference.to_string())
}

/// The full name of a named Avro type (`namespace.name`).
fn full_name(schema: &Value, enclosing_namespace: Option<&str>) -> Option<String> {
    let name = schema["name"].as_str()?;
    if name.contains('.') {
        return Some(name.to_string());
    }
    match schema["namespace"].as_str().or(enclosing_namespace) {
        Some(ns) if !ns.is_empty() => Some(format!("{ns}.{name}")),
        _ => Some(name.to_string()),
    }
}

/// The full names of the branches of ConversationEvent's `payload` union.
fn payload_branches(envelope: &Value) -> Vec<String> {
    let namespace = envelope["namespace"].as_str();
    let payload = envelope["fields"]
        .as_array()
        .and_then(|fields| fields.iter().find(|f| f["name"] == "payload"))
        .expect("conversation_event.avsc has a `payload` field");
    payload["type"]
        .as_array()
        .expect("ConversationEvent.payload is a union")
        .iter()
        .map(|branch| match branch {
            // A branch naming a type defined earlier.
            Value::String(name) if name.contains('.') => name.clone(),
            Value::String(name) => format!("{}.{name}", namespace.unwrap_or_default()),
            record => full_name(record, namespace)
                .unwrap_or_else(|| panic!("a payload branch without a name: {record}")),
        })
        .collect()
}

fn config_value<'a>(spec: &'a TopicSpec, key: &str) -> Option<&'a str> {
    spec.configs
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

/// A topicConfiguration value as topics.rs writes it (`cleanup.policy` is an array in
/// the binding and a comma-separated string in Kafka).
fn as_config_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

fn fail_on(problems: Vec<String>, what: &str) {
    assert!(
        problems.is_empty(),
        "schemas/asyncapi.json {what}:\n  - {}\n(update schemas/asyncapi.json and the \
         'Topic contract' section of schemas/README.md)",
        problems.join("\n  - ")
    );
}

#[test]
fn every_topic_is_a_channel_and_every_channel_a_topic() {
    let doc = document();
    let topics: BTreeSet<String> = topic_specs().into_iter().map(|s| s.name).collect();
    let documented: BTreeSet<String> = channels(&doc).into_iter().map(|(_, a, _)| a).collect();
    let mut problems = Vec::new();
    for missing in topics.difference(&documented) {
        problems.push(format!(
            "topic `{missing}` (created by Topics::specs in services/chat-core/src/topics.rs) \
             has no channel"
        ));
    }
    for extra in documented.difference(&topics) {
        problems.push(format!(
            "channel `{extra}` is not a topic Topics::specs creates (with the prefix \
             `{DEFAULT_PREFIX}`)"
        ));
    }
    fail_on(problems, "and topics.rs disagree on the topics");
}

#[test]
fn each_channel_documents_the_settings_topics_rs_configures() {
    let doc = document();
    let documented: BTreeMap<String, &Value> = channels(&doc)
        .into_iter()
        .map(|(_, address, channel)| (address, channel))
        .collect();
    let mut problems = Vec::new();
    for spec in topic_specs() {
        let Some(channel) = documented.get(&spec.name) else {
            continue; // reported by every_topic_is_a_channel_and_every_channel_a_topic
        };
        let binding = &channel["bindings"]["kafka"];
        if binding.is_null() {
            problems.push(format!(
                "channel `{}` has no Kafka binding (bindings.kafka) with its topic settings",
                spec.name
            ));
            continue;
        }
        if let Some(topic) = binding["topic"].as_str() {
            if topic != spec.name {
                problems.push(format!(
                    "channel `{}`: bindings.kafka.topic is `{topic}`",
                    spec.name
                ));
            }
        }
        if let Some(partitions) = binding["partitions"].as_i64() {
            if partitions != i64::from(spec.partitions) {
                problems.push(format!(
                    "channel `{}`: documents {partitions} partitions, the default \
                     kafka.partitions is {}",
                    spec.name, spec.partitions
                ));
            }
        }
        let documented_config = &binding["topicConfiguration"];
        // Retention and cleanup are what a consumer plans around: they must be written
        // down, and be what topics.rs sets.
        for key in ["retention.ms", "retention.bytes", "cleanup.policy"] {
            let Some(configured) = config_value(&spec, key) else {
                continue;
            };
            match documented_config.get(key) {
                None => problems.push(format!(
                    "channel `{}`: bindings.kafka.topicConfiguration has no `{key}` \
                     (topics.rs sets {configured})",
                    spec.name
                )),
                Some(value) if as_config_string(value) != configured => problems.push(format!(
                    "channel `{}`: documents {key} = {}, topics.rs sets {configured}",
                    spec.name,
                    as_config_string(value)
                )),
                Some(_) => {}
            }
        }
    }
    fail_on(problems, "and topics.rs disagree on topic settings");
}

#[test]
fn avro_payloads_point_at_the_schemas_the_topics_carry() {
    let doc = document();
    let dir = schemas_dir();
    let registered: BTreeMap<String, &'static str> =
        chat_core::registry::subjects(&Topics::new(DEFAULT_PREFIX))
            .into_iter()
            .collect();
    let mut problems = Vec::new();
    for (id, address, channel) in channels(&doc) {
        let subject = Topics::value_subject(&address);
        let mut files = BTreeSet::new();
        for (key, message) in messages(&doc, channel) {
            let Some(reference) = avro_file(message) else {
                continue;
            };
            let path = dir.join(&reference);
            if !path.is_file() {
                problems.push(format!(
                    "channel `{id}` message `{key}`: payload $ref `{reference}` names a file \
                     that does not exist ({})",
                    path.display()
                ));
                continue;
            }
            let schema = read_json(&path);
            let actual = full_name(&schema, None).unwrap_or_default();
            match message["x-avro-record"].as_str() {
                None => problems.push(format!(
                    "channel `{id}` message `{key}`: says no `x-avro-record` (the full name \
                     of {reference}, `{actual}`)"
                )),
                Some(said) if said != actual => problems.push(format!(
                    "channel `{id}` message `{key}`: says the record is `{said}`, \
                     {reference} defines `{actual}`"
                )),
                Some(_) => {}
            }
            files.insert(reference.clone());
            // The file is the schema this build registers for the topic, when it
            // registers one (compared as JSON, so formatting does not matter).
            if let Some(source) = registered.get(&subject) {
                let compiled: Value =
                    serde_json::from_str(source).expect("a compiled-in schema is JSON");
                if compiled != schema {
                    problems.push(format!(
                        "channel `{id}` message `{key}`: {reference} is not the schema this \
                         build registers under `{subject}`"
                    ));
                }
            }
        }
        if files.len() > 1 {
            problems.push(format!(
                "channel `{id}`: messages name several schema files ({files:?}); a topic \
                 carries one record type (TopicNameStrategy)"
            ));
        }
        if registered.contains_key(&subject) && files.is_empty() {
            problems.push(format!(
                "channel `{id}`: the build registers `{subject}` but no message has an Avro \
                 payload"
            ));
        }
        if let Some(said) = channel["x-registry-subject"].as_str() {
            if said != subject {
                problems.push(format!(
                    "channel `{id}`: x-registry-subject is `{said}`, the subject of \
                     `{address}` is `{subject}`"
                ));
            }
        }
    }
    fail_on(problems, "has payloads that do not match the schemas");
}

#[test]
fn every_conversation_event_branch_is_a_documented_message() {
    let doc = document();
    let address = Topics::new(DEFAULT_PREFIX).conversation_events;
    let envelope = read_json(&schemas_dir().join("avro/conversation_event.avsc"));
    let branches = payload_branches(&envelope);
    let channel = channels(&doc)
        .into_iter()
        .find(|(_, a, _)| *a == address)
        .map(|(_, _, c)| c)
        .unwrap_or_else(|| panic!("schemas/asyncapi.json has no channel `{address}`"));

    let mut problems = Vec::new();
    let mut documented = BTreeSet::new();
    for (key, message) in messages(&doc, channel) {
        let name = message["name"].as_str().unwrap_or(key.as_str()).to_string();
        if message["description"].as_str().is_none_or(str::is_empty) {
            problems.push(format!("message `{name}` has no description"));
        }
        let short = branches
            .iter()
            .find(|b| b.rsplit('.').next() == Some(name.as_str()));
        if let (Some(said), Some(full)) = (message["x-avro-payload-branch"].as_str(), short) {
            if said != full {
                problems.push(format!(
                    "message `{name}`: x-avro-payload-branch is `{said}`, the branch is `{full}`"
                ));
            }
        }
        documented.insert(name);
    }
    for branch in &branches {
        let short = branch.rsplit('.').next().unwrap_or(branch);
        if !documented.contains(short) {
            problems.push(format!(
                "payload branch `{branch}` of conversation_event.avsc is not documented as a \
                 message (name `{short}`) of channel `{address}`"
            ));
        }
    }
    let short_names: BTreeSet<&str> = branches
        .iter()
        .map(|b| b.rsplit('.').next().unwrap_or(b))
        .collect();
    for name in &documented {
        if !short_names.contains(name.as_str()) {
            problems.push(format!(
                "message `{name}` of channel `{address}` is not a branch of the payload union \
                 in conversation_event.avsc (branches: {})",
                short_names.iter().copied().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    fail_on(
        problems,
        "and conversation_event.avsc disagree on the event kinds",
    );
}

#[test]
fn every_channel_has_a_receive_operation() {
    let doc = document();
    let operations = doc["operations"]
        .as_object()
        .expect("schemas/asyncapi.json has an `operations` object");
    let received: BTreeSet<String> = operations
        .values()
        .map(|op| resolve(&doc, op))
        .filter(|op| op["action"] == "receive")
        .filter_map(|op| op["channel"]["$ref"].as_str())
        .filter_map(|r| r.strip_prefix("#/channels/"))
        .map(str::to_string)
        .collect();
    let problems: Vec<String> = channels(&doc)
        .into_iter()
        .filter(|(id, _, _)| !received.contains(id))
        .map(|(id, address, _)| format!("channel `{id}` ({address}) has no `receive` operation"))
        .collect();
    fail_on(problems, "leaves channels without an operation");
}
