//! The root package holds no code of its own: it exists so that `tests/` can drive the
//! whole server (see `tests/common`). The server itself lives in `api/`.
pub use nishan_api as api;
