//! What a container platform relies on (`terraform/` runs the binaries on ECS): the
//! `healthcheck` subcommands answer for the process running beside them, and a gateway
//! stopped with SIGTERM closes every socket with 1001 (spread over
//! `gateway.shutdown_spread_secs`), then exits by itself, within its stop timeout.

use std::process::{Command, Output};

use chat_e2e::{
    fresh_keyspace, sign_up, workspace_binary, Api, Gateway, Projector, Ws, JWT_SECRET,
};

fn gateway_healthcheck(ops_port: u16) -> Output {
    Command::new(workspace_binary("chat-gateway"))
        .args(["--ops-port", &ops_port.to_string(), "healthcheck"])
        .env("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET)
        .output()
        .expect("run chat-gateway healthcheck")
}

fn projector_healthcheck(port: u16) -> Output {
    Command::new(workspace_binary("chat-projector"))
        .args(["healthcheck", "--port", &port.to_string()])
        .output()
        .expect("run chat-projector healthcheck")
}

#[tokio::test]
async fn the_gateway_healthcheck_passes_while_it_runs_and_fails_once_it_has_stopped() {
    let mut gateway = Gateway::start("healthcheck").await;
    let ops_port = gateway.ops_port;
    let alive = gateway_healthcheck(ops_port);
    assert!(
        alive.status.success(),
        "healthcheck of a running gateway failed: {}",
        String::from_utf8_lossy(&alive.stderr)
    );
    gateway.stop();
    let gone = gateway_healthcheck(ops_port);
    assert_eq!(gone.status.code(), Some(1));
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(said.contains("nothing answered"), "{said}");
}

#[tokio::test]
async fn the_projector_healthcheck_passes_while_it_runs_and_fails_once_it_has_stopped() {
    let keyspace = fresh_keyspace().await;
    let group = chat_e2e::unique("healthcheck-history");
    let mut projector = Projector::start("history", &keyspace, &group);
    let port = projector.port;
    chat_e2e::eventually("the projector's healthcheck passes", || async {
        projector_healthcheck(port).status.success()
    })
    .await;
    projector.stop();
    let gone = projector_healthcheck(port);
    assert_eq!(gone.status.code(), Some(1));
}

#[tokio::test]
async fn sigterm_closes_every_socket_with_1001_over_the_spread_then_the_gateway_exits() {
    let mut gateway =
        Gateway::start_with("spread", &[("CHAT__GATEWAY__SHUTDOWN_SPREAD_SECS", "2")]).await;
    let api = Api::new(&gateway);
    let mut sockets = Vec::new();
    for i in 0..6 {
        let user = sign_up(&api, &format!("spread{i}")).await;
        sockets.push(Ws::connect(&gateway, &user.token).await);
    }
    let exited = gateway.stop_and_wait();
    let status = exited.expect("the gateway exits by itself after SIGTERM, not by SIGKILL");
    assert!(status.success(), "the gateway exited with {status}");
    for (i, socket) in sockets.iter_mut().enumerate() {
        assert_eq!(
            socket.closed().await,
            Some(1001),
            "socket {i} did not get the going-away close"
        );
    }
}
