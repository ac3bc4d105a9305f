//! Outgoing mail through `USERCENTER_MAIL`: an SMTP server (`smtp://user:pass@host:port`,
//! sent with lettre) or a folder where each message is one JSON file
//! (`to`, `subject`, `text`, `html`), as SPEC §1 describes.
//!
//! TLS (`docs/mail.md`): `smtps://` speaks TLS from the first byte (port 465 unless
//! given); `smtp://` requires STARTTLS unless the server is on this machine (loopback),
//! and `?tls=starttls` or `?tls=none` overrides that. Certificates are verified against
//! the system's authorities ([`super::tls::Roots`]).

use crate::error::{Error, Result};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

/// One message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone)]
pub enum Mailer {
    Folder(PathBuf),
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
}

impl Mailer {
    /// Reads `USERCENTER_MAIL`; `from_host` names the sender's domain.
    pub fn from_config(value: &str, from_host: &str) -> Result<Self, String> {
        if let Some(rest) = value.strip_prefix("file://") {
            return Ok(Self::Folder(PathBuf::from(rest)));
        }
        if !value.starts_with("smtp://") && !value.starts_with("smtps://") {
            return Ok(Self::Folder(PathBuf::from(value)));
        }
        let url =
            url::Url::parse(value).map_err(|e| format!("USERCENTER_MAIL is not valid: {e}"))?;
        // The host as written, without the brackets of an IPv6 address: what lettre
        // connects to, and the name the certificate must carry.
        let host = url
            .host_str()
            .ok_or_else(|| "USERCENTER_MAIL: the smtp:// URL has no host".to_string())?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let protection = Protection::of(&url)?;
        let port = url.port().unwrap_or(match protection {
            Protection::Implicit => 465,
            _ => 25,
        });
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .timeout(Some(std::time::Duration::from_secs(15)));
        if protection != Protection::Plain {
            let parameters = tls_parameters(host)?;
            builder = builder.tls(match protection {
                Protection::Implicit => Tls::Wrapper(parameters),
                _ => Tls::Required(parameters),
            });
        }
        if !url.username().is_empty() {
            let user = percent_decode(url.username());
            let pass = percent_decode(url.password().unwrap_or_default());
            builder = builder.credentials(Credentials::new(user, pass));
        }
        let from = url
            .query_pairs()
            .find(|(k, _)| k == "from")
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| format!("usercenter <no-reply@{from_host}>"));
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("USERCENTER_MAIL: bad from address: {e}"))?;
        Ok(Self::Smtp {
            transport: Box::new(builder.build()),
            from,
        })
    }

    pub async fn send(&self, mail: &Mail) -> Result<()> {
        match self {
            Self::Folder(dir) => write_json(dir, mail).await,
            Self::Smtp { transport, from } => {
                let to: Mailbox = mail
                    .to
                    .parse()
                    .map_err(|_| Error::field("email", "is not a valid e-mail address"))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&mail.subject)
                    .multipart(MultiPart::alternative_plain_html(
                        mail.text.clone(),
                        mail.html.clone(),
                    ))
                    .map_err(|e| Error::Internal(format!("cannot build mail: {e}")))?;
                transport
                    .send(message)
                    .await
                    .map_err(|e| Error::Internal(format!("SMTP delivery failed: {e}")))?;
                Ok(())
            }
        }
    }
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protection {
    /// Nothing crosses the network (a relay on this machine), or `?tls=none`.
    Plain,
    /// STARTTLS before anything else is sent; a server that does not offer it is not
    /// sent the credentials or the message.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
}

impl Protection {
    fn of(url: &url::Url) -> Result<Self, String> {
        let implicit = url.scheme() == "smtps";
        let asked = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        match asked.as_deref() {
            None if implicit => Ok(Self::Implicit),
            None if is_loopback(url) => Ok(Self::Plain),
            None => Ok(Self::StartTls),
            Some("starttls") if !implicit => Ok(Self::StartTls),
            Some("none") if !implicit => Ok(Self::Plain),
            Some(other) => Err(format!(
                "USERCENTER_MAIL: tls={other} is not understood here; smtp:// takes \
                 tls=starttls or tls=none, smtps:// is always TLS"
            )),
        }
    }
}

fn is_loopback(url: &url::Url) -> bool {
    // `smtp:` is not a special scheme to the URL standard: its host comes as written.
    match url.host() {
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// TLS towards `name`, trusting the system's authorities (read here, once).
fn tls_parameters(name: &str) -> Result<TlsParameters, String> {
    let roots = super::tls::Roots::load("USERCENTER_MAIL")?;
    let mut builder =
        TlsParameters::builder(name.to_string()).certificate_store(CertificateStore::None);
    for cert in roots.certs() {
        let cert = Certificate::from_der(cert.to_vec())
            .map_err(|e| format!("USERCENTER_MAIL: a trusted certificate: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("USERCENTER_MAIL: TLS: {e}"))
}

/// A user or password of the URL as it was meant: `%40` is `@`, and `+` stays `+`
/// (it is not a form).
pub(super) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Writes one JSON file per message, atomically (write, then rename), so a reader
/// never sees half a message.
pub async fn write_json<T: serde::Serialize>(dir: &std::path::Path, value: &T) -> Result<()> {
    let body = serde_json::to_vec_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
    let name = format!(
        "{}-{}",
        crate::time::now_millis(),
        crate::crypto::random_token(6)
    );
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| Error::Internal(format!("cannot create outbox {}: {e}", dir.display())))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let fin = dir.join(format!("{name}.json"));
    tokio::fs::write(&tmp, body)
        .await
        .map_err(|e| Error::Internal(format!("cannot write to outbox {}: {e}", dir.display())))?;
    tokio::fs::rename(&tmp, &fin)
        .await
        .map_err(|e| Error::Internal(format!("cannot write to outbox {}: {e}", dir.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Protection;

    fn of(value: &str) -> Result<Protection, String> {
        Protection::of(&url::Url::parse(value).map_err(|e| e.to_string())?)
    }

    #[test]
    fn credentials_leave_the_machine_only_inside_tls() {
        assert_eq!(
            of("smtp://u:p@mail.example.com:587"),
            Ok(Protection::StartTls)
        );
        assert_eq!(of("smtp://mail.example.com"), Ok(Protection::StartTls));
        assert_eq!(of("smtp://10.0.0.8:25"), Ok(Protection::StartTls));
        assert_eq!(of("smtps://u:p@mail.example.com"), Ok(Protection::Implicit));
        // A relay on this machine: nothing crosses a network.
        assert_eq!(of("smtp://u:p@127.0.0.1:2525"), Ok(Protection::Plain));
        assert_eq!(of("smtp://localhost:25"), Ok(Protection::Plain));
        assert_eq!(of("smtp://[::1]:25"), Ok(Protection::Plain));
        // Asked for in so many words.
        assert_eq!(
            of("smtp://127.0.0.1:25?tls=starttls"),
            Ok(Protection::StartTls)
        );
        assert_eq!(
            of("smtp://relay.lan:25?tls=none&from=a%40b.c"),
            Ok(Protection::Plain)
        );
        assert!(of("smtp://relay.lan?tls=maybe").is_err());
        assert!(of("smtps://relay.lan?tls=none").is_err());
    }

    #[test]
    fn credentials_are_percent_decoded_not_form_decoded() {
        assert_eq!(super::percent_decode("pa%40ss+word"), "pa@ss+word");
    }
}
