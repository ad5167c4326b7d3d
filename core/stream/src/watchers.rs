//! Viewers of a session that is not theirs: a share link's guests and
//! admins shadowing it. The owner's viewers are told who watches (unless
//! the watcher is silent, which only an admin's token can say, where the
//! workspace's policy allows it); a share link's control is handed over and
//! taken back by the link (a revoked link's streams are stopped by the
//! gateway's registry, like any revoked token's).

use crate::recorder::{Note, SinkKind};
use crate::session::{Output, SessionCore, SinkId};
use oriel_core_token::WatchedVia;
use oriel_core_wire::{NoticeKind, ServerMessage, caps};

impl SessionCore {
    /// Who the owner's viewers are told watches: one entry per watching
    /// viewer that is not silent, in the order they joined; empty when
    /// nobody does.
    pub(crate) fn watchers_line(&self) -> String {
        self.sinks
            .iter()
            .filter_map(|s| {
                let watcher = s.spec.watcher.as_ref().filter(|w| w.notify)?;
                let SinkKind::Viewer { label } = &s.spec.kind else {
                    return None;
                };
                let via = match watcher.via {
                    WatchedVia::Share => "share link",
                    WatchedVia::Shadow => "admin",
                };
                let what = if s.spec.control {
                    "in control"
                } else {
                    "view only"
                };
                Some(format!("{label} ({via}, {what})"))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The owner's viewers that take presence notices.
    fn owners_told(&self) -> Vec<SinkId> {
        self.sinks
            .iter()
            .filter(|s| {
                s.spec.watcher.is_none()
                    && matches!(s.spec.kind, SinkKind::Viewer { .. })
                    && s.spec.capabilities & caps::PRESENCE != 0
            })
            .map(|s| s.id)
            .collect()
    }

    /// After a viewer joined, left or changed control: the owner's viewers
    /// hear the new list when it changed.
    pub(crate) fn watchers_changed(&mut self) {
        let line = self.watchers_line();
        if line == self.watchers_told || self.is_ended() {
            return;
        }
        let bytes = ServerMessage::Notice {
            kind: NoticeKind::Watchers,
            message: line.clone(),
        }
        .to_bytes();
        for id in self.owners_told() {
            self.emit(Output::Send(id, bytes.clone()));
        }
        self.watchers_told = line;
    }

    /// An owner's viewer that just joined hears who already watches.
    pub(crate) fn tell_watchers_to(&mut self, id: SinkId) {
        if self.watchers_told.is_empty() || !self.owners_told().contains(&id) {
            return;
        }
        let msg = ServerMessage::Notice {
            kind: NoticeKind::Watchers,
            message: self.watchers_told.clone(),
        };
        self.emit(Output::Send(id, msg.to_bytes()));
    }

    /// Hands the control of a share link's viewers over (`true`) or takes it
    /// back; each viewer whose control changed is told (when it offers
    /// [`caps::PRESENCE`]) and the owner's viewers hear the new list.
    /// Returns the viewers changed.
    pub fn set_link_control(&mut self, link: &str, control: bool) -> usize {
        if self.is_ended() {
            return 0;
        }
        let mut changed = Vec::new();
        for s in &mut self.sinks {
            let of_link = s
                .spec
                .watcher
                .as_ref()
                .is_some_and(|w| w.link.as_deref() == Some(link));
            if of_link && s.spec.control != control {
                s.spec.control = control;
                let label = match &s.spec.kind {
                    SinkKind::Viewer { label } => label.clone(),
                    SinkKind::Recorder { .. } => continue,
                };
                changed.push((s.id, label, s.spec.capabilities & caps::PRESENCE != 0));
            }
        }
        let (kind, message) = if control {
            (
                NoticeKind::ControlGranted,
                "the session's owner handed you control",
            )
        } else {
            (
                NoticeKind::ControlTaken,
                "the session's owner took control back: you only watch",
            )
        };
        let notice = ServerMessage::Notice {
            kind,
            message: message.to_owned(),
        }
        .to_bytes();
        for (id, label, told) in &changed {
            self.note(Note::Control {
                sink: *id,
                label: label.clone(),
                control,
            });
            if *told {
                self.emit(Output::Send(*id, notice.clone()));
            }
        }
        self.watchers_changed();
        changed.len()
    }
}
