//! `chatctl health`: one real request to each dependency.

use std::time::Duration;

use anyhow::{bail, Result};
use chat_core::config::Settings;
use chat_core::{cql, redis_client, registry::RegistryAdmin};
use rdkafka::consumer::{BaseConsumer, Consumer};

pub async fn run(settings: &Settings) -> Result<()> {
    let mut failures = 0;
    let mut report = |name: &str, result: Result<String>| match result {
        Ok(detail) => println!("{name:<10} ok    {detail}"),
        Err(e) => {
            failures += 1;
            println!("{name:<10} DOWN  {e:#}");
        }
    };

    let kafka = (|| -> Result<String> {
        let consumer: BaseConsumer = chat_core::kafka::client_config(&settings.kafka).create()?;
        let md = consumer.fetch_metadata(None, Duration::from_secs(5))?;
        Ok(format!(
            "{} broker(s), {} topic(s)",
            md.brokers().len(),
            md.topics().len()
        ))
    })();
    report("kafka", kafka);

    let cql = async {
        let session = cql::connect(&settings.cql).await?;
        chat_store::ping(&session).await?;
        Ok::<_, anyhow::Error>(settings.cql.nodes.join(","))
    }
    .await;
    report("cql", cql);

    let redis = async {
        let mut conn = redis_client::connect(&settings.redis).await?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok::<_, anyhow::Error>(pong)
    }
    .await;
    report("redis", redis);

    let registry = async {
        let subjects = RegistryAdmin::new(&settings.registry)?
            .list_subjects()
            .await?;
        Ok::<_, anyhow::Error>(format!("{} subject(s)", subjects.len()))
    }
    .await;
    report("registry", registry);

    if failures > 0 {
        bail!("{failures} dependency(ies) down");
    }
    Ok(())
}
