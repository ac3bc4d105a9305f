//! Outgoing text messages through `USERCENTER_SMS` (SPEC §1): a folder where each
//! message is one JSON file (`phone`, `text`, `code`), or an `http(s)://` webhook that
//! receives the same JSON in a POST (`https://` verified against the system's
//! authorities, [`super::tls::Roots`]).

use crate::error::{Error, Result};
use axum::body::Bytes;
use axum::http::{HeaderValue, Request, Uri, header};
use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use std::path::PathBuf;
use std::time::Duration;

/// How long the gateway has to answer.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// One message.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sms {
    pub phone: String,
    pub text: String,
    pub code: String,
}

#[derive(Clone)]
pub enum SmsSender {
    Folder(PathBuf),
    Webhook {
        url: Uri,
        /// Basic credentials from the URL's user part (`https://user:pass@gateway/…`).
        auth: Option<HeaderValue>,
        http: Box<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>,
    },
}

impl SmsSender {
    /// Reads `USERCENTER_SMS`.
    pub fn from_config(value: &str) -> Result<Self, String> {
        let https = value.starts_with("https://");
        if https || value.starts_with("http://") {
            let mut parsed =
                url::Url::parse(value).map_err(|e| format!("USERCENTER_SMS is not valid: {e}"))?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err("USERCENTER_SMS: the webhook URL has no host".into());
            }
            // A user part is sent as Basic credentials, not in the request line.
            let auth = if parsed.username().is_empty() {
                None
            } else {
                let pair = format!(
                    "{}:{}",
                    super::mail::percent_decode(parsed.username()),
                    super::mail::percent_decode(parsed.password().unwrap_or_default())
                );
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
                    .map_err(|_| "USERCENTER_SMS: the URL's user part is not valid".to_string())?;
                value.set_sensitive(true);
                Some(value)
            };
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            let url: Uri = parsed
                .as_str()
                .parse()
                .map_err(|e| format!("USERCENTER_SMS is not valid: {e}"))?;
            let connector = hyper_rustls::HttpsConnectorBuilder::new();
            let connector = if https {
                let tls = super::tls::Roots::load("USERCENTER_SMS")?.client_config()?;
                connector.with_tls_config(tls).https_only()
            } else {
                // Plain HTTP; a TLS configuration that trusts nobody stands in.
                connector
                    .with_tls_config(super::tls::Roots::none().client_config()?)
                    .https_or_http()
            };
            let http = Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector.enable_http1().build());
            return Ok(Self::Webhook {
                url,
                auth,
                http: Box::new(http),
            });
        }
        let path = value.strip_prefix("file://").unwrap_or(value);
        Ok(Self::Folder(PathBuf::from(path)))
    }

    pub async fn send(&self, sms: &Sms) -> Result<()> {
        match self {
            Self::Folder(dir) => super::mail::write_json(dir, sms).await,
            Self::Webhook { url, auth, http } => {
                let body = serde_json::to_vec(sms).map_err(|e| Error::Internal(e.to_string()))?;
                let mut request = Request::post(url.clone())
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .map_err(|e| Error::Internal(e.to_string()))?;
                if let Some(auth) = auth {
                    request
                        .headers_mut()
                        .insert(header::AUTHORIZATION, auth.clone());
                }
                // A redirect is not followed: a gateway that redirects has not taken
                // the message. The (short) answer is read, so that its connection
                // serves the next message.
                let exchange = async {
                    let res = http.request(request).await?;
                    let status = res.status();
                    let _ = Limited::new(res.into_body(), 64 * 1024).collect().await;
                    Ok::<_, hyper_util::client::legacy::Error>(status)
                };
                let failure = match tokio::time::timeout(WEBHOOK_TIMEOUT, exchange).await {
                    Ok(Ok(status)) if status.is_success() => return Ok(()),
                    Ok(Ok(status)) => format!("answered {status}"),
                    Ok(Err(e)) => format!("failed: {}", with_causes(&e)),
                    Err(_) => format!("did not answer within {WEBHOOK_TIMEOUT:?}"),
                };
                tracing::error!("the SMS webhook {failure}");
                Err(Error::Unavailable(
                    "the SMS gateway did not take the message; try again later".into(),
                ))
            }
        }
    }
}

/// An error and the errors that caused it, on one line (the client names only the
/// request; the refused certificate or connection is further down).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}
