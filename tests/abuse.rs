//! Denial of service by one anonymous client (the tests are in `it/abuse.rs`). A binary of its
//! own: the attacks measure the server's resident memory as the process's, so no other test may
//! run in this process beside them.

#[macro_use]
#[path = "it/common/mod.rs"]
mod common;

#[path = "it/abuse.rs"]
mod abuse;
