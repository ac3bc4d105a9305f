//! Outgoing mail through `USERCENTER_MAIL`: an SMTP server (`smtp://user:pass@host:port`,
//! sent with lettre) or a folder where each message is one JSON file
//! (`to`, `subject`, `text`, `html`), as SPEC §1 describes.

use crate::error::{Error, Result};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
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
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

impl Mailer {
    /// Reads `USERCENTER_MAIL`; `from_host` names the sender's domain.
    pub fn from_config(value: &str, from_host: &str) -> Result<Self, String> {
        if let Some(rest) = value.strip_prefix("file://") {
            return Ok(Self::Folder(PathBuf::from(rest)));
        }
        if !value.starts_with("smtp://") {
            return Ok(Self::Folder(PathBuf::from(value)));
        }
        let url =
            url::Url::parse(value).map_err(|e| format!("USERCENTER_MAIL is not valid: {e}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| "USERCENTER_MAIL: the smtp:// URL has no host".to_string())?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(url.port().unwrap_or(25))
            .timeout(Some(std::time::Duration::from_secs(15)));
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
            transport: builder.build(),
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

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.to_string())
        .unwrap_or_default()
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
