//! An SMTP server on 127.0.0.1 that speaks enough of the protocol for a real client:
//! EHLO, STARTTLS (with a self-signed certificate made at start), AUTH PLAIN, MAIL, RCPT,
//! DATA, RSET, NOOP and QUIT. It keeps every message with how it arrived (over TLS or not,
//! with which login), and can answer RCPT with scripted codes.

use base64::Engine;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// One message the server accepted.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA as sent, dot-stuffing removed.
    pub data: Vec<u8>,
    /// Whether the session had switched to TLS before the message.
    pub tls: bool,
    /// The AUTH PLAIN login, if the client logged in.
    pub login: Option<(String, String)>,
}

#[derive(Default)]
struct SmtpState {
    mails: Mutex<Vec<Mail>>,
    /// Codes to answer RCPT with, in order; 250 once they run out.
    rcpt_script: Mutex<Vec<u16>>,
}

/// The server; its certificate is for 127.0.0.1, and `ca_pem` is what a client must trust.
pub struct SmtpServer {
    pub addr: SocketAddr,
    pub ca_pem: String,
    state: Arc<SmtpState>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let ca_pem = certified.cert.pem();
        let key =
            rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(SmtpState::default());
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let mut plain = BufReader::new(stream);
                    plain
                        .get_mut()
                        .write_all(b"220 127.0.0.1 ESMTP test\r\n")
                        .await
                        .ok();
                    if let Some(plain) = dialogue(plain, false, &state).await
                        && let Ok(tls) = acceptor.accept(plain.into_inner()).await
                    {
                        dialogue(BufReader::new(tls), true, &state).await;
                    }
                });
            }
        });
        SmtpServer {
            addr,
            ca_pem,
            state,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Answer the next RCPT commands with these codes (then 250).
    pub fn script_rcpt(&self, codes: &[u16]) {
        *self.state.rcpt_script.lock().unwrap() = codes.to_vec();
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.state.mails.lock().unwrap().clone()
    }
}

/// One side of a session (before or after STARTTLS). Returns the stream when the client
/// asked for STARTTLS, so the caller can wrap it; `None` when the session ended.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: BufReader<S>,
    tls: bool,
    state: &SmtpState,
) -> Option<BufReader<S>> {
    let mut login = None;
    let mut from = String::new();
    let mut to = Vec::new();
    loop {
        let line = read_line(&mut stream).await?;
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            if tls {
                "250-127.0.0.1\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n".into()
            } else {
                "250-127.0.0.1\r\n250-STARTTLS\r\n250 8BITMIME\r\n".into()
            }
        } else if upper == "STARTTLS" && !tls {
            stream.get_mut().write_all(b"220 go ahead\r\n").await.ok()?;
            return Some(stream);
        } else if upper.starts_with("AUTH PLAIN") {
            let encoded = match line.get(11..).map(str::trim).filter(|s| !s.is_empty()) {
                Some(initial) => initial.to_string(),
                None => {
                    stream.get_mut().write_all(b"334 \r\n").await.ok()?;
                    read_line(&mut stream).await?
                }
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .unwrap_or_default();
            let parts: Vec<String> = decoded
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            if parts.len() == 3 {
                login = Some((parts[1].clone(), parts[2].clone()));
                "235 2.7.0 accepted\r\n".into()
            } else {
                "501 malformed\r\n".into()
            }
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&line);
            to.clear();
            "250 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            let code = {
                let mut script = state.rcpt_script.lock().unwrap();
                if script.is_empty() {
                    250
                } else {
                    script.remove(0)
                }
            };
            if code == 250 {
                to.push(address(&line));
            }
            format!("{code} rcpt\r\n")
        } else if upper == "DATA" {
            stream
                .get_mut()
                .write_all(b"354 end with .\r\n")
                .await
                .ok()?;
            let mut data = Vec::new();
            loop {
                let line = read_line(&mut stream).await?;
                if line == "." {
                    break;
                }
                let line = line.strip_prefix('.').unwrap_or(&line);
                data.extend_from_slice(line.as_bytes());
                data.extend_from_slice(b"\r\n");
            }
            state.mails.lock().unwrap().push(Mail {
                from: from.clone(),
                to: to.clone(),
                data,
                tls,
                login: login.clone(),
            });
            "250 queued\r\n".into()
        } else if upper == "RSET" || upper == "NOOP" {
            "250 ok\r\n".into()
        } else if upper == "QUIT" {
            stream.get_mut().write_all(b"221 bye\r\n").await.ok();
            return None;
        } else {
            "502 not implemented\r\n".into()
        };
        stream.get_mut().write_all(reply.as_bytes()).await.ok()?;
    }
}

/// One line without its CRLF; `None` at the end of the stream.
async fn read_line<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut BufReader<S>) -> Option<String> {
    let mut line = String::new();
    match stream.read_line(&mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
    }
}

/// The address between `<` and `>` in a MAIL or RCPT command.
fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_string()
}
