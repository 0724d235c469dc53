//! Access that ends: what a connection's caller may still read, checked for every event a
//! subscription would send, and cached per connection so the check costs a lookup. The cache
//! forgets what a change could affect: `SessionsEnded` for the caller forgets who the caller
//! is (the token is looked up again), `AccessChanged` of a project forgets that project, and a
//! bus `Resync` forgets everything (the changes may be among what was missed). A session also
//! ends by itself when it expires (by the server's clock, at the next event). When access is gone, the subscription ends with an error:
//! `UNAUTHENTICATED` when the session ended, `FORBIDDEN` when the project can no longer be
//! read.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use nishan_domain::DomainError;
use nishan_domain::events::{DomainEvent, NoEvents};
use nishan_domain::ids::{ProjectId, UserId};
use nishan_domain::policy::Actor;
use nishan_domain::service::projects::{ProjectRef, Projects};

use crate::auth::Viewer;
use crate::state::AppState;

/// Who the connection's caller is, as last looked up.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    SignedIn {
        actor: Actor,
        expires_at: DateTime<Utc>,
    },
    /// The token no longer names a valid session.
    Ended,
}

/// Why access ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// The session ended (logout, password change, expiry).
    Session,
    /// The caller may no longer read the project.
    Project,
}

impl Lost {
    pub fn error(self, what: &str) -> DomainError {
        match self {
            Self::Session => DomainError::Unauthenticated,
            Self::Project => DomainError::forbidden(format!("you can no longer read this {what}")),
        }
    }
}

#[derive(Default)]
struct Cache {
    caller: Option<Caller>,
    /// Whether the caller may read each project.
    projects: HashMap<ProjectId, bool>,
}

/// The access of one connection's caller, shared by its subscriptions.
pub struct ConnectionAccess {
    state: AppState,
    token: Option<String>,
    cache: Mutex<Cache>,
}

impl ConnectionAccess {
    pub fn new(state: AppState, token: Option<String>) -> Self {
        Self { state, token, cache: Mutex::new(Cache::default()) }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the caller from a viewer just looked up (saves a lookup at subscribe time).
    pub fn seed(&self, viewer: &Viewer) {
        let caller = match viewer {
            Viewer::Anonymous => Caller::Anonymous,
            Viewer::InvalidToken => Caller::Ended,
            Viewer::SignedIn { user, expires_at, .. } => {
                Caller::SignedIn { actor: Actor { user_id: user.id, is_admin: user.is_admin }, expires_at: *expires_at }
            }
        };
        self.cache().caller = Some(caller);
    }

    /// The signed-in user, if known.
    pub fn user(&self) -> Option<UserId> {
        match self.cache().caller {
            Some(Caller::SignedIn { actor, .. }) => Some(actor.user_id),
            _ => None,
        }
    }

    /// Forgets what `event` may have changed; true when the caller's access to `project`
    /// must be checked again.
    pub fn forget(&self, event: &DomainEvent, project: ProjectId) -> bool {
        let mut cache = self.cache();
        let me = match cache.caller {
            Some(Caller::SignedIn { actor, .. }) => Some(actor.user_id),
            _ => None,
        };
        match event {
            DomainEvent::SessionsEnded { user_id } if Some(*user_id) == me => {
                cache.caller = None;
                cache.projects.clear();
                true
            }
            DomainEvent::AccessChanged { project_id, user_id } if user_id.is_none() || *user_id == me => {
                cache.projects.remove(project_id);
                *project_id == project
            }
            _ => false,
        }
    }

    /// Forgets everything (after events may have been missed).
    pub fn forget_all(&self) {
        *self.cache() = Cache::default();
    }

    /// What [`Self::check`] says when the cache knows the answer (`None`: it must look).
    pub fn cached(&self, project: ProjectId) -> Option<Result<(), Lost>> {
        let now = self.state.clock.now();
        let cache = self.cache();
        match cache.caller? {
            Caller::Ended => Some(Err(Lost::Session)),
            Caller::SignedIn { expires_at, .. } if expires_at <= now => Some(Err(Lost::Session)),
            _ => cache.projects.get(&project).map(|&can| if can { Ok(()) } else { Err(Lost::Project) }),
        }
    }

    /// Whether the caller may still read `project`: from the cache when it knows, else from
    /// the database. `Ok(None)` when the check could not be made (a database error, logged):
    /// the event is not sent, and the subscription goes on.
    pub async fn check(&self, project: ProjectId) -> Option<Result<(), Lost>> {
        // The server's clock (a test's manual one): a session past its expiry ends here.
        let now = self.state.clock.now();
        let caller = {
            let cache = self.cache();
            match cache.caller {
                Some(Caller::Ended) => return Some(Err(Lost::Session)),
                Some(Caller::SignedIn { expires_at, .. }) if expires_at <= now => return Some(Err(Lost::Session)),
                Some(caller) => {
                    if let Some(&can) = cache.projects.get(&project) {
                        return Some(if can { Ok(()) } else { Err(Lost::Project) });
                    }
                    Some(caller)
                }
                None => None,
            }
        };
        let caller = match caller {
            Some(caller) => caller,
            None => {
                let caller = match Viewer::from_token(&self.state, self.token.as_deref()).await {
                    Ok(viewer) => match viewer {
                        Viewer::Anonymous => Caller::Anonymous,
                        Viewer::InvalidToken => Caller::Ended,
                        Viewer::SignedIn { user, expires_at, .. } => {
                            Caller::SignedIn { actor: Actor { user_id: user.id, is_admin: user.is_admin }, expires_at }
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "could not check a subscriber's session");
                        return None;
                    }
                };
                self.cache().caller = Some(caller);
                if caller == Caller::Ended {
                    return Some(Err(Lost::Session));
                }
                caller
            }
        };
        let actor = match caller {
            Caller::SignedIn { actor, .. } => Some(actor),
            _ => None,
        };
        let projects = Projects { store: &self.state.store, events: &NoEvents };
        let can = match projects.find(actor.as_ref(), ProjectRef::Id(project)).await {
            Ok(found) => found.is_some(),
            Err(e) => {
                tracing::warn!(error = %e, "could not check a subscriber's access");
                return None;
            }
        };
        self.cache().projects.insert(project, can);
        Some(if can { Ok(()) } else { Err(Lost::Project) })
    }
}
