//! A minimal SMTP server for tests: accepts one message and hands it over, so the
//! server's real SMTP client (lettre) is exercised end to end, in the clear, after
//! STARTTLS, or inside TLS from the first byte (`smtps://`).

use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// How the test server protects the conversation.
pub enum Mode {
    Plain,
    /// Offers STARTTLS and upgrades when asked.
    StartTls(Arc<ServerConfig>),
    /// TLS from the first byte.
    Implicit(Arc<ServerConfig>),
}

#[derive(Default)]
pub struct Received {
    pub rcpt: String,
    pub data: String,
    pub auth_seen: bool,
    /// AUTH came before the conversation was encrypted.
    pub auth_in_clear: bool,
    /// The conversation went on inside TLS (a line was read after the handshake).
    pub tls: bool,
}

/// Listens on a free port; the receiver gets what one connection did.
pub fn capture(mode: Mode) -> (String, oneshot::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let mut got = Received::default();
        if let Ok((tcp, _)) = listener.accept() {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(20)));
            match mode {
                Mode::Plain => {
                    converse(tcp, true, false, false, &mut got);
                }
                Mode::StartTls(config) => {
                    if let Some(tcp) = converse(tcp, true, false, true, &mut got) {
                        let conn = ServerConnection::new(config).unwrap();
                        converse(StreamOwned::new(conn, tcp), false, true, false, &mut got);
                    }
                }
                Mode::Implicit(config) => {
                    let conn = ServerConnection::new(config).unwrap();
                    converse(StreamOwned::new(conn, tcp), true, true, false, &mut got);
                }
            }
        }
        let _ = tx.send(got);
    });
    (addr, rx)
}

/// One SMTP conversation on `stream`. Hands the stream back when the client asked
/// for STARTTLS (when `offer_starttls`), after the 220 that lets it start.
fn converse<S: Read + Write>(
    stream: S,
    greet: bool,
    secure: bool,
    offer_starttls: bool,
    got: &mut Received,
) -> Option<S> {
    let mut reader = BufReader::new(stream);
    if greet {
        let out = reader.get_mut();
        out.write_all(b"220 test ESMTP\r\n").ok()?;
        out.flush().ok()?;
    }
    let mut in_data = false;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            // A line read inside TLS: the handshake went through.
            Ok(_) => got.tls |= secure,
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if in_data {
            if line == "." {
                in_data = false;
                let _ = reader.get_mut().write_all(b"250 OK queued\r\n");
            } else {
                got.data.push_str(line);
                got.data.push('\n');
            }
            continue;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            if offer_starttls {
                b"250-test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
            } else {
                b"250-test\r\n250 AUTH PLAIN LOGIN\r\n"
            }
        } else if upper.starts_with("STARTTLS") && offer_starttls {
            reader.get_mut().write_all(b"220 go ahead\r\n").ok()?;
            return Some(reader.into_inner());
        } else if upper.starts_with("AUTH") {
            got.auth_seen = true;
            got.auth_in_clear |= !secure;
            b"235 OK\r\n"
        } else if upper.starts_with("RCPT") {
            got.rcpt.push_str(line);
            b"250 OK\r\n"
        } else if upper.starts_with("DATA") {
            in_data = true;
            b"354 go ahead\r\n"
        } else if upper.starts_with("QUIT") {
            let _ = reader.get_mut().write_all(b"221 bye\r\n");
            return None;
        } else {
            b"250 OK\r\n"
        };
        if reader.get_mut().write_all(reply).is_err() {
            return None;
        }
        let _ = reader.get_mut().flush();
    }
}
