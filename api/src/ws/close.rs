//! WebSocket close codes of the `graphql-transport-ws` protocol (as the `graphql-ws`
//! library's `CloseCode` names them), and close reasons that fit a control frame.

pub const NORMAL: u16 = 1000;
/// A message that is not valid JSON, not an object, or not a message of the protocol.
pub const BAD_REQUEST: u16 = 4400;
/// `subscribe` before the server acknowledged the connection.
pub const UNAUTHORIZED: u16 = 4401;
/// The server refused the `connection_init` payload.
pub const FORBIDDEN: u16 = 4403;
/// The client offered no subprotocol the server speaks.
pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
/// No `connection_init` within the allowed time.
pub const CONNECTION_INITIALISATION_TIMEOUT: u16 = 4408;
/// `subscribe` with the id of an operation still running.
pub const SUBSCRIBER_ALREADY_EXISTS: u16 = 4409;
/// A second `connection_init`.
pub const TOO_MANY_INITIALISATION_REQUESTS: u16 = 4429;
/// The server failed (an internal error it cannot answer per operation).
pub const INTERNAL_ERROR: u16 = 4500;

/// A control frame carries at most 125 bytes, two of them the code.
const MAX_REASON_BYTES: usize = 123;

/// `reason` cut (on a character boundary) to what a close frame can carry.
pub fn reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES - '…'.len_utf8();
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        assert_eq!(super::reason("short"), "short");
        let long = "کربلا".repeat(40);
        let cut = super::reason(&long);
        assert!(cut.len() <= 123, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(long.starts_with(cut.trim_end_matches('…')));
    }
}
