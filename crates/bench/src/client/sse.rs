//! A display's Server-Sent Events stream as the load client reads it: a hand-written
//! HTTP/1.1 `GET` on a plain `TcpStream`, the chunked body decoded by hand and a minimal
//! line parser over it. A client process holds thousands of these, so each keeps a 2 KiB
//! read buffer and the bytes of one unfinished line, and nothing else.

use std::io;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Read buffer per stream: events are a few hundred bytes; a `snapshot` (~10 KB) is read
/// in several turns.
const READ_BUFFER: usize = 2 * 1024;
/// The response head may be at most this long.
const MAX_HEAD: usize = 16 * 1024;
/// One line (a `data:` of JSON) may be at most this long.
const MAX_LINE: usize = 1024 * 1024;
/// A line buffer that grew past this (a `snapshot`) is given back after its line.
const KEEP_LINE_CAPACITY: usize = 1024;

/// Why a stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SseError {
    /// The URL is not `http://host:port/path`.
    #[error("bad URL {0}")]
    Url(String),
    /// Connecting, writing or reading failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server answered something other than `200`.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The response could not be read as HTTP/1.1.
    #[error("malformed response: {0}")]
    Malformed(String),
}

/// One event: its `event:` name and its `data:` lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:` (`message` when absent).
    pub name: String,
    /// `data:`.
    pub data: String,
    /// Bytes of the event's lines, as received.
    pub bytes: usize,
}

/// An open stream after a `200` answer.
pub struct SseStream<R> {
    reader: BufReader<R>,
    /// Chunked transfer encoding (actix's for a streamed body); else the body runs to EOF.
    chunked: bool,
    /// Bytes left in the current chunk.
    chunk_left: usize,
    /// The last chunk (size 0) or EOF was read.
    ended: bool,
    /// Body bytes read but not yet parsed into lines.
    pending: Vec<u8>,
}

/// Opens `url` (`http://host:port/path`) as an event stream.
pub async fn connect(url: &str) -> Result<SseStream<TcpStream>, SseError> {
    let parsed = url::Url::parse(url).map_err(|_| SseError::Url(url.to_owned()))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| SseError::Url(url.to_owned()))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| SseError::Url(url.to_owned()))?;
    let mut path = parsed.path().to_owned();
    if let Some(query) = parsed.query() {
        path.push('?');
        path.push_str(query);
    }
    let mut stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\
         Cache-Control: no-cache\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    SseStream::open(stream).await
}

impl<R: tokio::io::AsyncRead + Unpin> SseStream<R> {
    /// Reads the response head from `io`; a non-`200` answer is an error with its body.
    pub async fn open(io: R) -> Result<SseStream<R>, SseError> {
        let mut reader = BufReader::with_capacity(READ_BUFFER, io);
        let mut head = Vec::new();
        loop {
            let before = head.len();
            let n = reader.read_until(b'\n', &mut head).await?;
            if n == 0 {
                return Err(SseError::Malformed("connection closed in the head".into()));
            }
            if head.len() > MAX_HEAD {
                return Err(SseError::Malformed("head too long".into()));
            }
            if matches!(&head[before..], b"\r\n" | b"\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&head);
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| SseError::Malformed("no status line".into()))?;
        let (mut chunked, mut length) = (false, None);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            } else if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<usize>().ok();
            }
        }
        if status != 200 {
            let mut body = vec![0; length.unwrap_or(0).min(512)];
            let _ = reader.read_exact(&mut body).await;
            return Err(SseError::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(SseStream {
            reader,
            chunked,
            chunk_left: 0,
            ended: false,
            pending: Vec::new(),
        })
    }

    /// The next event; `None` when the server ended the stream. Comments (`: keep-alive`),
    /// `id:` and `retry:` lines are skipped.
    pub async fn next_event(&mut self) -> io::Result<Option<SseEvent>> {
        let (mut name, mut data, mut bytes) = (None::<String>, None::<String>, 0);
        loop {
            let Some(line) = self.next_line().await? else {
                return Ok(None);
            };
            bytes += line.len() + 1;
            let text = String::from_utf8_lossy(&line);
            let text = text.strip_suffix('\r').unwrap_or(&text);
            if text.is_empty() {
                if let Some(data) = data.take() {
                    let name = name.take().unwrap_or_else(|| "message".to_owned());
                    return Ok(Some(SseEvent { name, data, bytes }));
                }
                // A blank line after a comment or an event without data: nothing to tell.
                (name, bytes) = (None, 0);
                continue;
            }
            if text.starts_with(':') {
                continue;
            }
            let (field, value) = text.split_once(':').unwrap_or((text, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => name = Some(value.to_owned()),
                "data" => match &mut data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => data = Some(value.to_owned()),
                },
                _ => {}
            }
        }
    }

    /// The next line of the body without its `\n`; `None` at its end.
    async fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line = self.pending[..end].to_vec();
                self.pending.drain(..=end);
                if self.pending.capacity() > KEEP_LINE_CAPACITY
                    && self.pending.len() <= KEEP_LINE_CAPACITY
                {
                    self.pending.shrink_to(KEEP_LINE_CAPACITY);
                }
                return Ok(Some(line));
            }
            if self.ended {
                return Ok(None);
            }
            if self.pending.len() > MAX_LINE {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
            }
            self.read_body().await?;
        }
    }

    /// Appends what the socket has of the body to `pending` (waiting for at least a byte).
    async fn read_body(&mut self) -> io::Result<()> {
        if self.chunked && self.chunk_left == 0 {
            self.chunk_left = self.chunk_size().await?;
            if self.chunk_left == 0 {
                self.ended = true;
                return Ok(());
            }
        }
        let available = self.reader.fill_buf().await?;
        if available.is_empty() {
            self.ended = true;
            return Ok(());
        }
        let take = if self.chunked {
            available.len().min(self.chunk_left)
        } else {
            available.len()
        };
        self.pending.extend_from_slice(&available[..take]);
        self.reader.consume(take);
        if self.chunked {
            self.chunk_left -= take;
        }
        Ok(())
    }

    /// Reads a chunk's size line (after the previous chunk's closing CRLF, if any).
    async fn chunk_size(&mut self) -> io::Result<usize> {
        let mut line = Vec::with_capacity(16);
        loop {
            line.clear();
            if self.reader.read_until(b'\n', &mut line).await? == 0 {
                return Ok(0);
            }
            let text = String::from_utf8_lossy(&line);
            let size = text.split(';').next().unwrap_or("").trim();
            if size.is_empty() {
                // The CRLF that closes the previous chunk's data.
                continue;
            }
            return usize::from_str_radix(size, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {size:?}"),
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(body: &str, pieces: usize) -> String {
        let step = body.len().div_ceil(pieces);
        let mut out = String::from(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
        );
        for piece in body.as_bytes().chunks(step) {
            out.push_str(&format!("{:x}\r\n", piece.len()));
            out.push_str(std::str::from_utf8(piece).unwrap());
            out.push_str("\r\n");
        }
        out.push_str("0\r\n\r\n");
        out
    }

    const BODY: &str = "retry: 2000\n\nevent: snapshot\nid: 7\ndata: {\"a\":1}\n\n\
        : keep-alive\n\nevent: playback\ndata: {\"title\":\"x\"}\n\ndata: one\ndata: two\n\n";

    async fn events(raw: String) -> Vec<SseEvent> {
        let mut stream = SseStream::open(raw.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        while let Some(event) = stream.next_event().await.unwrap() {
            out.push(event);
        }
        out
    }

    #[tokio::test]
    async fn reads_events_across_chunk_boundaries() {
        for pieces in [1, 3, 7, BODY.len()] {
            let got = events(chunked(BODY, pieces)).await;
            let names: Vec<&str> = got.iter().map(|e| e.name.as_str()).collect();
            assert_eq!(
                names,
                ["snapshot", "playback", "message"],
                "{pieces} chunks"
            );
            assert_eq!(got[0].data, r#"{"a":1}"#);
            assert_eq!(got[1].data, r#"{"title":"x"}"#);
            assert_eq!(got[2].data, "one\ntwo");
            assert_eq!(
                got[1].bytes,
                "event: playback\ndata: {\"title\":\"x\"}\n\n".len()
            );
        }
    }

    #[tokio::test]
    async fn reads_a_body_without_chunks_to_its_end() {
        let raw = format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n{BODY}");
        assert_eq!(events(raw).await.len(), 3);
    }

    #[tokio::test]
    async fn an_error_answer_carries_its_body() {
        let body = r#"{"error":{"code":"rate_limited"}}"#;
        let raw = format!(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        match SseStream::open(raw.as_bytes()).await {
            Err(SseError::Status { status, body: got }) => {
                assert_eq!((status, got.as_str()), (429, body));
            }
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("a 429 opened"),
        }
    }
}
