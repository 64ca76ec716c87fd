//! A Server-Sent Events client like a browser's `EventSource` (without the reconnecting):
//! events parsed as the HTML standard says, comments and `retry:` noted, every wait bounded.

use std::time::Duration;

use reqwest::{StatusCode, header::HeaderMap};
use serde_json::Value;

use super::WAIT;

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `event:` (`message` when absent).
    pub event: String,
    /// `id:` when the event carried one.
    pub id: Option<String>,
    /// `data:` as JSON.
    pub data: Value,
}

/// An open stream.
pub struct Stream {
    response: reqwest::Response,
    buf: String,
    /// Every byte received so far (to check what never appears in it).
    pub raw: String,
    /// The `retry:` the server asked for, once seen.
    pub retry_ms: Option<u64>,
    /// Comments seen (keep-alives).
    pub comments: usize,
    /// The response headers.
    pub headers: HeaderMap,
}

/// A client for streams: no overall timeout (each wait has its own).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Opens `url` (with `Last-Event-ID: last` if given): the stream, or the refusal's status and
/// JSON body.
pub async fn open(
    http: &reqwest::Client,
    url: &str,
    last: Option<&str>,
) -> Result<Stream, (StatusCode, Value)> {
    let mut request = http.get(url).header("Accept", "text/event-stream");
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last);
    }
    let response = tokio::time::timeout(WAIT, request.send())
        .await
        .expect("the stream answers in time")
        .expect("request");
    let status = response.status();
    if status != StatusCode::OK {
        return Err((status, response.json().await.unwrap_or(Value::Null)));
    }
    Ok(Stream {
        headers: response.headers().clone(),
        response,
        buf: String::new(),
        raw: String::new(),
        retry_ms: None,
        comments: 0,
    })
}

impl Stream {
    /// The next event; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Option<Event> {
        self.next_within(WAIT).await.expect("an event in time")
    }

    /// The next event within `limit` (`Err` on a timeout; `Ok(None)` at the stream's end).
    pub async fn next_within(&mut self, limit: Duration) -> Result<Option<Event>, ()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(at) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..at + 2).collect();
                if let Some(event) = self.parse(&block) {
                    return Ok(Some(event));
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Err(()),
                Ok(Ok(Some(chunk))) => {
                    let text = String::from_utf8(chunk.to_vec()).expect("UTF-8");
                    self.raw.push_str(&text);
                    self.buf.push_str(&text);
                }
                Ok(Ok(None) | Err(_)) => return Ok(None),
            }
        }
    }

    /// The next event named `name`, skipping others.
    pub async fn next_named(&mut self, name: &str) -> Event {
        loop {
            let event = self
                .next()
                .await
                .unwrap_or_else(|| panic!("stream ended before `{name}`"));
            if event.event == name {
                return event;
            }
        }
    }

    /// Waits for the server to end the stream, skipping events.
    pub async fn ended(&mut self) {
        while self.next().await.is_some() {}
    }

    fn parse(&mut self, block: &str) -> Option<Event> {
        let (mut event, mut id, mut data) = (None, None, Vec::new());
        for line in block.lines() {
            if line.starts_with(':') {
                self.comments += 1;
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event = Some(value.to_owned()),
                "id" => id = Some(value.to_owned()),
                "data" => data.push(value.to_owned()),
                "retry" => self.retry_ms = value.parse().ok(),
                _ => {}
            }
        }
        if data.is_empty() {
            return None;
        }
        Some(Event {
            event: event.unwrap_or_else(|| "message".to_owned()),
            id,
            data: serde_json::from_str(&data.join("\n")).expect("data is JSON"),
        })
    }
}
