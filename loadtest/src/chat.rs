//! Scenario `chat`: C group conversations of S members; every member holds a WebSocket
//! (spread over the gateways in turn, so a group spans gateways) and every member
//! sends, R messages per second in total, spread evenly. Measures send-to-ack (Kafka
//! has it) and send-to-deliver (another member's socket has it, through the fanout),
//! and counts lost messages: acked, but not delivered to every other member by the end
//! of the drain, or missing from history afterwards.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::json;

use crate::live::{self, Member};
use crate::{setup, Ctx};

pub async fn run(ctx: &Ctx) -> Result<()> {
    let a = &ctx.args;
    let (c, s) = (a.conversations.max(1), a.members_or(5).max(2));
    let n = c * s;
    let accounts = ctx.accounts(n).await?;
    // Conversation k: accounts k*S .. (k+1)*S, created by the first.
    let groups: Vec<Vec<usize>> = (0..c).map(|k| (k * s..(k + 1) * s).collect()).collect();
    eprintln!("creating {c} conversations of {s} members");
    let ids = setup::create_groups(&ctx.http, &a.gateways[0], &accounts, &groups).await?;
    let members = (0..n)
        .map(|i| Member {
            index: i,
            account: i,
            conversation: i / s,
            sends: true,
        })
        .collect();
    let extra = BTreeMap::from([("conversations", json!(c)), ("members", json!(s))]);
    live::run(ctx, &accounts, &ids, members, a.rate_or(500), extra).await
}
