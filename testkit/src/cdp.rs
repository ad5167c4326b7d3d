//! A small Chrome DevTools Protocol client: one WebSocket, many sessions.
//!
//! Commands are JSON-RPC-like messages `{id, method, params, sessionId?}`;
//! the reader task routes each reply to the caller waiting on its id and
//! broadcasts every event (messages without an id) to all subscribers.
//! Sessions come from `Target.attachToTarget {flatten: true}`: their
//! commands and events carry a `sessionId`.
//! Protocol reference: <https://chromedevtools.github.io/devtools-protocol/>.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

type Responders = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// A protocol event.
#[derive(Debug, Clone)]
pub struct CdpEvent {
    pub method: String,
    pub params: Value,
    /// The session it belongs to; `None` for browser-level events.
    pub session_id: Option<String>,
}

/// The connection to a browser's DevTools endpoint.
#[derive(Debug)]
pub struct CdpConnection {
    next_id: AtomicU64,
    outgoing: mpsc::UnboundedSender<Message>,
    responders: Responders,
    events: broadcast::Sender<CdpEvent>,
    closed: Arc<AtomicBool>,
    timeout: Duration,
    tasks: Vec<JoinHandle<()>>,
}

impl CdpConnection {
    /// Connects to a `ws://127.0.0.1:PORT/devtools/...` URL.
    pub async fn connect(ws_url: &str, timeout: Duration) -> Result<Self> {
        let host_port = ws_url
            .strip_prefix("ws://")
            .and_then(|rest| rest.split('/').next())
            .with_context(|| format!("not a ws:// url: {ws_url}"))?;
        let connect = async {
            let tcp = tokio::net::TcpStream::connect(host_port)
                .await
                .with_context(|| format!("cannot connect to {host_port}"))?;
            tcp.set_nodelay(true)?;
            let (ws, _) = tokio_tungstenite::client_async(ws_url, tcp)
                .await
                .with_context(|| format!("websocket handshake with {ws_url} failed"))?;
            Ok::<_, anyhow::Error>(ws)
        };
        let ws = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| anyhow!("cannot connect to {ws_url} within {timeout:?}"))??;
        let (mut sink, mut stream) = ws.split();

        let (outgoing, mut outgoing_rx) = mpsc::unbounded_channel::<Message>();
        let responders: Responders = Arc::default();
        let (events, _) = broadcast::channel(4096);
        let closed = Arc::new(AtomicBool::new(false));

        let writer = tokio::spawn(async move {
            while let Some(message) = outgoing_rx.recv().await {
                if let Err(error) = sink.send(message).await {
                    tracing::debug!(error = %error, "cdp write failed");
                    break;
                }
            }
            let _ = sink.close().await;
        });

        let reader = {
            let responders = responders.clone();
            let events = events.clone();
            let closed = closed.clone();
            tokio::spawn(async move {
                while let Some(message) = stream.next().await {
                    let text = match message {
                        Ok(Message::Text(text)) => text,
                        Ok(Message::Close(_)) | Err(_) => break,
                        Ok(_) => continue,
                    };
                    let Ok(value) = serde_json::from_str::<Value>(&text) else {
                        tracing::warn!("cdp sent a message that is not JSON");
                        continue;
                    };
                    dispatch(value, &responders, &events);
                }
                closed.store(true, Ordering::SeqCst);
                // Fail every pending call.
                if let Ok(mut pending) = responders.lock() {
                    pending.clear();
                }
            })
        };

        Ok(Self {
            next_id: AtomicU64::new(1),
            outgoing,
            responders,
            events,
            closed,
            timeout,
            tasks: vec![writer, reader],
        })
    }

    /// The timeout applied to each call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Subscribes to events from now on (each subscriber buffers up to 4096).
    pub fn subscribe(&self) -> broadcast::Receiver<CdpEvent> {
        self.events.subscribe()
    }

    /// Sends a command and waits for its result (or error) for the default timeout.
    pub async fn call(
        &self,
        session_id: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value> {
        self.call_with_timeout(session_id, method, params, self.timeout)
            .await
    }

    /// Sends a command and waits for its result for `timeout`.
    pub async fn call_with_timeout(
        &self,
        session_id: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value> {
        if self.closed.load(Ordering::SeqCst) {
            bail!("cdp {method}: the browser connection is closed");
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.responders
            .lock()
            .map_err(|_| anyhow!("cdp responder lock poisoned"))?
            .insert(id, tx);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session_id) = session_id {
            message["sessionId"] = json!(session_id);
        }
        if self
            .outgoing
            .send(Message::Text(message.to_string().into()))
            .is_err()
        {
            self.forget(id);
            bail!("cdp {method}: the browser connection is closed");
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(error))) => bail!("cdp {method} failed: {error}"),
            Ok(Err(_)) => bail!("cdp {method}: the browser connection closed before replying"),
            Err(_) => {
                self.forget(id);
                bail!("cdp {method}: no reply within {timeout:?}")
            }
        }
    }

    /// Sends a command without waiting for its reply (usable from `Drop`).
    pub fn send_and_forget(&self, session_id: Option<&str>, method: &str, params: Value) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session_id) = session_id {
            message["sessionId"] = json!(session_id);
        }
        let _ = self
            .outgoing
            .send(Message::Text(message.to_string().into()));
    }

    fn forget(&self, id: u64) {
        if let Ok(mut pending) = self.responders.lock() {
            pending.remove(&id);
        }
    }
}

impl Drop for CdpConnection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn dispatch(value: Value, responders: &Responders, events: &broadcast::Sender<CdpEvent>) {
    if let Some(id) = value.get("id").and_then(Value::as_u64) {
        let responder = responders
            .lock()
            .ok()
            .and_then(|mut pending| pending.remove(&id));
        if let Some(responder) = responder {
            let result = match value.get("error") {
                Some(error) => Err(error
                    .get("message")
                    .and_then(Value::as_str)
                    .map(|m| match error.get("data").and_then(Value::as_str) {
                        Some(data) => format!("{m} ({data})"),
                        None => m.to_owned(),
                    })
                    .unwrap_or_else(|| error.to_string())),
                None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
            };
            let _ = responder.send(result);
        }
        return;
    }
    if let Some(method) = value.get("method").and_then(Value::as_str) {
        let event = CdpEvent {
            method: method.to_owned(),
            params: value.get("params").cloned().unwrap_or(Value::Null),
            session_id: value
                .get("sessionId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        // No subscribers is fine.
        let _ = events.send(event);
    }
}
