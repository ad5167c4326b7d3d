//! The `container` session kind for the gateway: VNC to the session's
//! container (through any VNC [`Connector`]), and its files through the
//! runtime (for Docker an `exec` as the session user, see
//! [`crate::ContainerFiles`]).

use std::sync::Arc;

use oriel_core_model::SessionError;
use oriel_protocols_session::{BoxFuture, ConnectRequest, Connector, RemoteSession};

use crate::SessionId;
use crate::runtime::SessionRuntime;

/// The `container` adapter: `vnc` reaches the desktop, `runtime` moves its
/// files.
#[derive(Debug)]
pub struct ContainerConnector<C, R> {
    vnc: C,
    runtime: Arc<R>,
}

impl<C, R> ContainerConnector<C, R> {
    /// Container sessions of `runtime`, their desktops reached by `vnc`.
    pub fn new(vnc: C, runtime: Arc<R>) -> Self {
        ContainerConnector { vnc, runtime }
    }
}

impl<C: Connector, R: SessionRuntime> Connector for ContainerConnector<C, R> {
    fn kind(&self) -> &'static str {
        "container"
    }

    fn connect(
        &self,
        request: ConnectRequest,
    ) -> BoxFuture<'static, Result<RemoteSession, SessionError>> {
        let files = SessionId::new(request.session_id.as_str())
            .ok()
            .map(|sid| self.runtime.files(&sid));
        let connecting = self.vnc.connect(request);
        Box::pin(async move {
            let mut session = connecting.await?;
            session.files = files;
            Ok(session)
        })
    }
}
