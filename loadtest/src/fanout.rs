//! Scenario `fanout`: one group of M members, every one connected (spread over the
//! gateways in turn), `--senders` of them sending R messages per second in total. Each
//! message is M-1 deliveries; every one is timed (send-to-deliver), and a lost pair is
//! any (acked message, online member other than its sender) that never arrived, or a
//! message missing from history afterwards.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::json;

use crate::live::{self, Member};
use crate::{setup, Ctx};

pub async fn run(ctx: &Ctx) -> Result<()> {
    let a = &ctx.args;
    let m = a.members_or(1000).max(2);
    let senders = a.senders.clamp(1, m);
    let accounts = ctx.accounts(m).await?;
    eprintln!("creating one group of {m} members");
    let ids =
        setup::create_groups(&ctx.http, &a.gateways[0], &accounts, &[(0..m).collect()]).await?;
    // Senders are spread through the member list so they sit on different gateways.
    let stride = (m / senders).max(1);
    let members = (0..m)
        .map(|i| Member {
            index: i,
            account: i,
            conversation: 0,
            sends: i % stride == 0 && i / stride < senders,
        })
        .collect();
    let extra = BTreeMap::from([("members", json!(m))]);
    live::run(ctx, &accounts, &ids, members, a.rate_or(50), extra).await
}
