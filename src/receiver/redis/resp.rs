//! A minimal RESP2 client, enough for what the receiver asks: commands go out as arrays of bulk
//! strings, and the replies AUTH and INFO give (status, error, integer, bulk string) are read back.
//! Redis and Valkey speak it alike. Lines and bulk strings are bounded, so a server (or something
//! else listening on the port) cannot make the receiver hold unbounded memory.

use std::io;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufStream};

/// The longest reply line read (a status, an error or a length).
const MAX_LINE: u64 = 64 * 1024;
/// The largest bulk string read: `INFO all` is a few KiB, tens with many commands.
pub const MAX_BULK: usize = 16 * 1024 * 1024;

/// A byte stream to a server: TCP, a unix socket, or TLS over either.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A reply of the kinds AUTH and INFO give.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR ...`, `-NOAUTH ...`, `-WRONGPASS ...`
    Error(String),
    /// `:1`
    Integer(i64),
    /// `$5\r\nhello\r\n`, or `$-1` (none).
    Bulk(Option<Vec<u8>>),
}

/// One connection to a server.
pub struct Connection {
    io: BufStream<Box<dyn Io>>,
    reply_timeout: Duration,
}

impl Connection {
    /// `reply_timeout`: the longest one command may take to be sent and answered.
    pub fn new(io: Box<dyn Io>, reply_timeout: Duration) -> Connection {
        Connection {
            io: BufStream::new(io),
            reply_timeout,
        }
    }

    /// Sends one command and reads its reply. `Err` is a broken connection (closed, timed out, not
    /// speaking RESP): it should not be used again.
    pub async fn command(&mut self, args: &[&[u8]]) -> Result<Reply, String> {
        let request = encode(args);
        let limit = self.reply_timeout;
        let io = &mut self.io;
        let exchange = async move {
            io.write_all(&request).await?;
            io.flush().await?;
            read_reply(io).await
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no reply within {limit:?}")),
        }
    }
}

/// A command as RESP: an array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Reads one reply.
pub async fn read_reply<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Reply> {
    let line = read_line(reader).await?;
    let Some((&kind, rest)) = line.split_first() else {
        return Err(invalid("the server sent an empty line, not a RESP reply"));
    };
    let text = || String::from_utf8_lossy(rest).into_owned();
    let number = || {
        std::str::from_utf8(rest)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or_else(|| invalid(format!("expected a number after '{}', got '{}'", kind as char, text())))
    };
    match kind {
        b'+' => Ok(Reply::Status(text())),
        b'-' => Ok(Reply::Error(text())),
        b':' => Ok(Reply::Integer(number()?)),
        b'$' => {
            let length = number()?;
            if length < 0 {
                return Ok(Reply::Bulk(None));
            }
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            if length > MAX_BULK {
                return Err(invalid(format!(
                    "the server sent a {length}-byte reply, more than the {MAX_BULK} bytes read"
                )));
            }
            let mut data = vec![0u8; length + 2];
            reader.read_exact(&mut data).await?;
            if !data.ends_with(b"\r\n") {
                return Err(invalid("a bulk string did not end with CRLF"));
            }
            data.truncate(length);
            Ok(Reply::Bulk(Some(data)))
        }
        other => Err(invalid(format!(
            "expected a RESP reply, got a line starting with {:?} (is this port a Redis or Valkey server?)",
            other as char
        ))),
    }
}

/// One CRLF-terminated line, without its CRLF.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let read = (&mut *reader).take(MAX_LINE).read_until(b'\n', &mut line).await?;
    if read == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
    }
    if !line.ends_with(b"\r\n") {
        if line.len() as u64 >= MAX_LINE {
            return Err(invalid(format!("a reply line is longer than {MAX_LINE} bytes")));
        }
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection mid-reply",
        ));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> io::Result<Reply> {
        let mut reader = tokio::io::BufReader::new(bytes);
        read_reply(&mut reader).await
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            encode(&[b"AUTH", b"valkey", b"s3cret"]),
            b"*3\r\n$4\r\nAUTH\r\n$6\r\nvalkey\r\n$6\r\ns3cret\r\n"
        );
        assert_eq!(encode(&[b"INFO", b"all"]), b"*2\r\n$4\r\nINFO\r\n$3\r\nall\r\n");
    }

    #[tokio::test]
    async fn the_replies_auth_and_info_give_are_read() {
        assert_eq!(read(b"+OK\r\n").await.unwrap(), Reply::Status("OK".into()));
        // What redis-server 7.0 answers a wrong password.
        assert_eq!(
            read(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
                .await
                .unwrap(),
            Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
        );
        assert_eq!(read(b":42\r\n").await.unwrap(), Reply::Integer(42));
        assert_eq!(
            read(b"$13\r\n# Server\r\na:1\r\n\r\n").await.unwrap(),
            Reply::Bulk(Some(b"# Server\r\na:1".to_vec()))
        );
        assert_eq!(read(b"$-1\r\n").await.unwrap(), Reply::Bulk(None));
    }

    #[tokio::test]
    async fn what_is_not_resp_is_an_error() {
        for (bytes, expected) in [
            (&b"HTTP/1.1 400 Bad Request\r\n"[..], "expected a RESP reply"),
            (b"$5\r\nhel", "early eof"),
            (b"$5\r\nhello!!", "did not end with CRLF"),
            (b"$x\r\n", "expected a number after '$'"),
            (b"+OK", "closed the connection mid-reply"),
            (b"", "closed the connection"),
            (b"$99999999999\r\n", "more than the"),
        ] {
            let error = read(bytes).await.unwrap_err().to_string();
            assert!(error.contains(expected), "{bytes:?}: expected {expected:?} in {error:?}");
        }
        let long = vec![b'+'; MAX_LINE as usize + 10];
        let error = read(&long).await.unwrap_err().to_string();
        assert!(error.contains("longer than"), "{error}");
    }
}
