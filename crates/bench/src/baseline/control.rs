//! The baselines' trigger: a line protocol on its own loopback port.
//!
//! `room <n> <tag>` broadcasts to room `n`, `all <tag>` to every room; the server answers
//! `ok <frames enqueued>` once the broadcast is queued, or `error <why>`.

use super::rooms::Rooms;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

/// Serves the control protocol on `listener` forever.
pub async fn serve<F>(listener: TcpListener, rooms: Arc<Rooms<F>>, to_frame: fn(String) -> F)
where
    F: Clone + Send + 'static,
{
    while let Ok((stream, _)) = listener.accept().await {
        let rooms = rooms.clone();
        tokio::spawn(async move {
            if let Err(err) = serve_one(stream, &rooms, to_frame).await {
                tracing::debug!(%err, "control connection ended");
            }
        });
    }
}

async fn serve_one<F: Clone>(
    stream: TcpStream,
    rooms: &Rooms<F>,
    to_frame: fn(String) -> F,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = match parse(&line) {
            Some((room, tag)) => {
                let n = rooms.broadcast(room, |seq, now| {
                    to_frame(crate::frame::baseline_playback(seq, tag, now))
                });
                format!("ok {n}\n")
            }
            None => format!("error bad command {line:?}\n"),
        };
        write.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

fn parse(line: &str) -> Option<(Option<u32>, &str)> {
    let mut words = line.split_whitespace();
    match (words.next()?, words.next()?, words.next()) {
        ("all", tag, None) => Some((None, tag)),
        ("room", room, Some(tag)) => Some((Some(room.parse().ok()?), tag)),
        _ => None,
    }
}

/// Errors of the control client.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The connection failed.
    #[error("baseline control connection: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered something other than `ok <n>`.
    #[error("baseline control answered {0:?}")]
    Reply(String),
}

/// The driver's end of the control protocol; one request at a time.
pub struct ControlClient {
    conn: Mutex<(
        tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
        tokio::net::tcp::OwnedWriteHalf,
    )>,
}

impl ControlClient {
    /// Connects to a baseline's control port.
    pub async fn connect(addr: std::net::SocketAddr) -> Result<ControlClient, ControlError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (read, write) = stream.into_split();
        Ok(ControlClient {
            conn: Mutex::new((BufReader::new(read).lines(), write)),
        })
    }

    /// Broadcasts `tag` to `room` (or to every room); returns the frames enqueued.
    pub async fn broadcast(&self, room: Option<u32>, tag: &str) -> Result<u64, ControlError> {
        let command = match room {
            Some(room) => format!("room {room} {tag}\n"),
            None => format!("all {tag}\n"),
        };
        let mut conn = self.conn.lock().await;
        conn.1.write_all(command.as_bytes()).await?;
        let line = conn.0.next_line().await?.unwrap_or_default();
        line.strip_prefix("ok ")
            .and_then(|n| n.parse().ok())
            .ok_or(ControlError::Reply(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(parse("all t1"), Some((None, "t1")));
        assert_eq!(parse("room 12 t2"), Some((Some(12), "t2")));
        assert_eq!(parse("room x t2"), None);
        assert_eq!(parse("all"), None);
        assert_eq!(parse("shout t1"), None);
    }

    #[tokio::test]
    async fn control_round_trip_enqueues_to_members() {
        let rooms = Rooms::<String>::new();
        let (_id, mut rx) = rooms.join(3);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, rooms.clone(), |s| s));
        let client = ControlClient::connect(addr).await.unwrap();
        assert_eq!(client.broadcast(Some(3), "t9").await.unwrap(), 1);
        assert_eq!(client.broadcast(Some(4), "t9").await.unwrap(), 0);
        let frame = rx.recv().await.unwrap();
        assert!(frame.contains(r#""id":"t9""#));
    }
}
