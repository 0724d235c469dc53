//! Nishan's domain: the types, rules and ports of collaborative entity annotation.
//!
//! Pure logic only: no I/O, no ORM, no async runtime. Constructors validate, so a value of a
//! domain type is a valid value; rules live here once and the other crates call them; the
//! ports (`ports`) are what infrastructure implements.
#![allow(async_fn_in_trait)] // Ports are used through concrete types, where `Send` is inferred.

pub mod artifact;
pub mod audit;
pub mod chat;
pub mod document;
pub mod entity;
pub mod entity_type;
pub mod error;
pub mod events;
pub mod exchange;
pub mod extract;
pub mod formats;
pub mod ids;
pub mod job;
pub mod knowledge;
pub mod learn;
pub mod llm;
pub mod membership;
pub mod policy;
pub mod ports;
pub mod project;
pub mod rate_limit;
pub mod relationship;
pub mod rounds;
pub mod search;
pub mod service;
pub mod session;
pub mod settings;
pub mod source;
pub mod statistics;
pub mod text;
pub mod throttle;
pub mod usage;
pub mod user;
pub mod webhook;

pub use error::{DomainError, DomainResult};
