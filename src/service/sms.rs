//! Outgoing text messages through `USERCENTER_SMS` (SPEC §1): a folder where each
//! message is one JSON file (`phone`, `text`, `code`), or an `http://` webhook that
//! receives the same JSON in a POST.

use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

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
    Webhook { url: String, http: reqwest::Client },
}

impl SmsSender {
    /// Reads `USERCENTER_SMS`.
    pub fn from_config(value: &str) -> Result<Self, String> {
        if value.starts_with("https://") {
            return Err(
                "USERCENTER_SMS: https:// webhooks are not supported by this build; \
                 use an http:// webhook (a relay beside the server) or a folder"
                    .into(),
            );
        }
        if value.starts_with("http://") {
            url::Url::parse(value).map_err(|e| format!("USERCENTER_SMS is not valid: {e}"))?;
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| format!("USERCENTER_SMS: {e}"))?;
            return Ok(Self::Webhook {
                url: value.to_string(),
                http,
            });
        }
        let path = value.strip_prefix("file://").unwrap_or(value);
        Ok(Self::Folder(PathBuf::from(path)))
    }

    pub async fn send(&self, sms: &Sms) -> Result<()> {
        match self {
            Self::Folder(dir) => super::mail::write_json(dir, sms).await,
            Self::Webhook { url, http } => {
                let res = http
                    .post(url)
                    .json(sms)
                    .send()
                    .await
                    .map_err(|e| Error::Internal(format!("the SMS webhook failed: {e}")))?;
                if res.status().is_success() {
                    Ok(())
                } else {
                    Err(Error::Internal(format!(
                        "the SMS webhook answered {}",
                        res.status()
                    )))
                }
            }
        }
    }
}
