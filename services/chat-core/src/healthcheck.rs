//! The `healthcheck` subcommand of every long-running binary: one HTTP GET of the
//! process's own `/healthz` on loopback, exit 0 or 1. Container runtimes (Docker's
//! `HEALTHCHECK`, an ECS task's `healthCheck`) run it inside the container, where the
//! runtime image has no curl or wget to do it with.
//!
//! Plain `std::net` on purpose: it runs once and exits, so neither a runtime nor an HTTP
//! client is worth starting, and the ops listeners speak plain HTTP/1.1.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// How long the whole probe may take: a container health check has its own timeout
/// (ECS's default is 5 s), and answering within it is what "healthy" means here.
const PATIENCE: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum HealthcheckError {
    #[error("nothing answered on 127.0.0.1:{port}: {source}")]
    Unreachable { port: u16, source: std::io::Error },
    #[error("127.0.0.1:{port}{path} answered {status_line:?}")]
    Unhealthy {
        port: u16,
        path: &'static str,
        status_line: String,
    },
}

/// GET `http://127.0.0.1:{port}/healthz`; Ok when it answers 200.
pub fn probe(port: u16) -> Result<(), HealthcheckError> {
    let path = "/healthz";
    let unreachable = |source| HealthcheckError::Unreachable { port, source };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, PATIENCE).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(PATIENCE))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(PATIENCE))
        .map_err(unreachable)?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    // The status line is all that is needed; read at most a little more than it.
    let mut head = [0u8; 256];
    let mut filled = 0;
    while filled < head.len() {
        let n = stream.read(&mut head[filled..]).map_err(unreachable)?;
        if n == 0 || head[..filled + n].contains(&b'\n') {
            filled += n;
            break;
        }
        filled += n;
    }
    let status_line = String::from_utf8_lossy(&head[..filled])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    if is_ok(&status_line) {
        Ok(())
    } else {
        Err(HealthcheckError::Unhealthy {
            port,
            path,
            status_line,
        })
    }
}

fn is_ok(status_line: &str) -> bool {
    let mut parts = status_line.split_whitespace();
    matches!(
        (parts.next(), parts.next()),
        (Some(version), Some("200")) if version.starts_with("HTTP/1.")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf);
                let _ = s.write_all(answer.as_bytes());
            }
        });
        port
    }

    #[test]
    fn a_200_is_healthy() {
        let port = serve_once("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        probe(port).unwrap();
    }

    #[test]
    fn anything_else_is_not_and_says_what_it_got() {
        let port = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let err = probe(port).unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
        assert!(!is_ok("HTTP/1.1 2000 weird"));
        assert!(!is_ok("SSH-2.0-OpenSSH"));
    }

    #[test]
    fn a_closed_port_is_unreachable() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(matches!(
            probe(port),
            Err(HealthcheckError::Unreachable { .. })
        ));
    }
}
