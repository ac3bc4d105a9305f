//! `?format=json|html` (seed 000): the same data as JSON, or as a readable page.

use crate::http::ctx::Ctx;
use crate::http::i18n::Lang;
use crate::http::pages::render;
use crate::service::auth::html_escape;
use askama::Template;
use axum::Json;
use axum::http::StatusCode;
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
            Err(e) => return crate::error::Error::Internal(e.to_string()).into_response(),
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
