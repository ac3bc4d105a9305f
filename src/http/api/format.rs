//! `?format=json|html` (seed 000): the same data as JSON, or as a readable page.

use crate::error::Error;
use crate::http::SharedState;
use crate::http::ctx::Ctx;
use crate::http::i18n::Lang;
use crate::http::pages::render;
use crate::service::auth::html_escape;
use askama::Template;
use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Format {
    pub format: Option<String>,
}

#[derive(Template)]
#[template(path = "data.html")]
struct DataPage {
    lang: Lang,
    title: String,
    path: String,
    body: String,
}

/// A JSON value as nested HTML tables, every text escaped.
fn to_html(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let rows: String = map
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<tr><th>{}</th><td>{}</td></tr>",
                        html_escape(k),
                        to_html(v)
                    )
                })
                .collect();
            format!("<table class=\"data\">{rows}</table>")
        }
        Value::Array(items) if items.is_empty() => "—".into(),
        Value::Array(items) => {
            let rows: String = items
                .iter()
                .map(|i| format!("<tr><td>{}</td></tr>", to_html(i)))
                .collect();
            format!("<table class=\"data\">{rows}</table>")
        }
        Value::String(s) => html_escape(s),
        Value::Null => "—".into(),
        other => html_escape(&other.to_string()),
    }
}

/// Answers `value` in the format asked for.
pub fn respond(
    ctx: &Ctx,
    format: &Format,
    status: StatusCode,
    title: &str,
    path: &str,
    value: impl Serialize,
) -> Response {
    if format.format.as_deref() == Some("html") {
        let body = match serde_json::to_value(&value) {
            Ok(v) => to_html(&v),
            Err(e) => return Error::Internal(e.to_string()).into_response(),
        };
        let page = DataPage {
            lang: ctx.lang,
            title: title.into(),
            path: path.into(),
            body,
        };
        return render(ctx, status, &page);
    }
    ctx.finish((status, Json(value)).into_response())
}

/// Middleware of the JSON API: `format` is `json` or `html` (seed 000), anything else
/// is refused with 400; with `html`, an error is shown as a page too, with its status
/// and its `WWW-Authenticate` and `Retry-After` (the handlers render their own
/// answers, [`respond`]). Without `format=html` nothing is read or rendered here.
pub async fn errors_as_pages(
    State(state): State<SharedState>,
    req: Request,
    next: Next,
) -> Response {
    let asked = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "format")
            .map(|(_, v)| v.into_owned())
    });
    match asked.as_deref() {
        None | Some("json") => return next.run(req).await,
        Some("html") => {}
        Some(_) => return Error::field("format", "must be json or html").into_response(),
    }
    let path = req.uri().path().to_string();
    let (mut parts, body) = req.into_parts();
    let ctx = match Ctx::from_request_parts(&mut parts, &state).await {
        Ok(ctx) => ctx,
        Err(e) => return e.into_response(),
    };
    let response = next.run(Request::from_parts(parts, body)).await;
    let is_json_error = (response.status().is_client_error()
        || response.status().is_server_error())
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json_error {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Error::Internal("an error answer could not be read".into()).into_response();
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, bytes.into());
    };
    let title = value["error"].as_str().unwrap_or("error").to_string();
    let html = Format {
        format: Some("html".into()),
    };
    let mut page = respond(&ctx, &html, parts.status, &title, &path, value);
    for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            page.headers_mut().insert(name, v.clone());
        }
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        let html = to_html(&serde_json::json!({"name": "<script>", "list": [1, "a&b"]}));
        assert!(html.contains("&lt;script&gt;") && html.contains("a&amp;b"));
        assert!(!html.contains("<script>"));
    }
}
