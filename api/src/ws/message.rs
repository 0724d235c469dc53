//! The messages of the two GraphQL-over-WebSocket protocols: what a client may send (parsed
//! and checked as strictly as the `graphql-ws` library checks them), and what the server
//! sends back.

use async_graphql::{Response, ServerError};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// A subprotocol the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`, of the `graphql-ws` library.
    GraphqlTransportWs,
    /// `graphql-ws`, of the retired `subscriptions-transport-ws` library (old Playground and
    /// Apollo clients).
    LegacyGraphqlWs,
}

impl Protocol {
    /// Subprotocol names, in the order the server prefers them.
    pub const NAMES: [&'static str; 2] = ["graphql-transport-ws", "graphql-ws"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "graphql-transport-ws" => Some(Self::GraphqlTransportWs),
            "graphql-ws" => Some(Self::LegacyGraphqlWs),
            _ => None,
        }
    }
}

/// A message from the client.
#[derive(Debug)]
pub enum ClientMessage {
    ConnectionInit {
        payload: Value,
    },
    Ping {
        payload: Option<Value>,
    },
    Pong,
    /// `subscribe` (`start` in the legacy protocol).
    Subscribe {
        id: String,
        request: Box<async_graphql::Request>,
    },
    /// `complete` (`stop` in the legacy protocol).
    Complete {
        id: String,
    },
    /// Legacy only: the client is leaving.
    ConnectionTerminate,
}

/// Parses a text frame; `Err` carries the reason for closing with 4400.
pub fn parse(protocol: Protocol, text: &str) -> Result<ClientMessage, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(mut message) = value else {
        return Err("a message must be a JSON object".into());
    };
    let kind = match message.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => return Err("a message must have a string `type`".into()),
    };
    let legacy = protocol == Protocol::LegacyGraphqlWs;
    match (kind.as_str(), legacy) {
        ("connection_init", _) => {
            let payload = optional_object(&mut message, "payload")?.unwrap_or_default();
            Ok(ClientMessage::ConnectionInit { payload: Value::Object(payload) })
        }
        ("ping", false) => {
            Ok(ClientMessage::Ping { payload: optional_object(&mut message, "payload")?.map(Value::Object) })
        }
        ("pong", false) => {
            optional_object(&mut message, "payload")?;
            Ok(ClientMessage::Pong)
        }
        ("subscribe", false) | ("start", true) => {
            let id = id(&message)?;
            let Some(Value::Object(payload)) = message.remove("payload") else {
                return Err(format!("`{kind}` needs a `payload` object"));
            };
            Ok(ClientMessage::Subscribe { id, request: Box::new(request(payload)?) })
        }
        ("complete", false) | ("stop", true) => Ok(ClientMessage::Complete { id: id(&message)? }),
        ("connection_terminate", true) => Ok(ClientMessage::ConnectionTerminate),
        _ => Err(format!("unexpected message type `{}`", kind.chars().take(40).collect::<String>())),
    }
}

fn id(message: &Map<String, Value>) -> Result<String, String> {
    match message.get("id") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        _ => Err("a message of this type needs a non-empty string `id`".into()),
    }
}

/// A field that, when present and not null, must be an object.
fn optional_object(message: &mut Map<String, Value>, field: &str) -> Result<Option<Map<String, Value>>, String> {
    match message.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(_) => Err(format!("`{field}` must be an object")),
    }
}

/// The GraphQL request of a `subscribe` payload, shaped as the protocol requires.
fn request(mut payload: Map<String, Value>) -> Result<async_graphql::Request, String> {
    let query = match payload.remove("query") {
        Some(Value::String(query)) => query,
        _ => return Err("`payload.query` must be a string".into()),
    };
    let operation_name = match payload.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err("`payload.operationName` must be a string or null".into()),
    };
    let variables = optional_object(&mut payload, "variables").map_err(|e| format!("payload: {e}"))?;
    let extensions = optional_object(&mut payload, "extensions").map_err(|e| format!("payload: {e}"))?;
    let mut request = async_graphql::Request::new(query);
    request.operation_name = operation_name;
    if let Some(variables) = variables {
        request.variables = async_graphql::Variables::from_json(Value::Object(variables));
    }
    if let Some(extensions) = extensions {
        request.extensions = serde_json::from_value(Value::Object(extensions))
            .map_err(|e| format!("`payload.extensions` is not valid: {e}"))?;
    }
    Ok(request)
}

/// A message from the server.
pub enum ServerMessage<'a> {
    ConnectionAck,
    /// Legacy: the `connection_init` was refused.
    ConnectionError {
        message: &'a str,
    },
    /// Legacy keep-alive.
    KeepAlive,
    Pong {
        payload: Option<Value>,
    },
    /// A result (`next`, or legacy `data`).
    Next {
        id: &'a str,
        response: &'a Response,
    },
    /// The operation was refused before it ran.
    Error {
        id: &'a str,
        errors: &'a [ServerError],
    },
    Complete {
        id: &'a str,
    },
}

/// A `next` (legacy `data`) message around a payload already written as JSON (`{"data":…}`):
/// the same bytes as [`ServerMessage::Next`] of that response, for a result rendered once and
/// sent to many subscribers.
pub fn next_rendered(protocol: Protocol, id: &str, payload: &str) -> String {
    let kind = if protocol == Protocol::LegacyGraphqlWs { "data" } else { "next" };
    let id = serde_json::to_string(id).unwrap_or_default();
    let mut text = String::with_capacity(payload.len() + id.len() + 32);
    text.push_str("{\"type\":\"");
    text.push_str(kind);
    text.push_str("\",\"id\":");
    text.push_str(&id);
    text.push_str(",\"payload\":");
    text.push_str(payload);
    text.push('}');
    text
}

impl ServerMessage<'_> {
    pub fn to_json(&self, protocol: Protocol) -> String {
        let legacy = protocol == Protocol::LegacyGraphqlWs;
        // The message of every subscription event: written straight from the response, without
        // building a JSON tree first.
        if let Self::Next { id, response } = self {
            #[derive(Serialize)]
            struct Next<'a> {
                #[serde(rename = "type")]
                kind: &'static str,
                id: &'a str,
                payload: &'a Response,
            }
            let next = Next { kind: if legacy { "data" } else { "next" }, id, payload: response };
            return serde_json::to_string(&next).unwrap_or_default();
        }
        let value = match self {
            Self::ConnectionAck => json!({ "type": "connection_ack" }),
            Self::ConnectionError { message } => {
                json!({ "type": "connection_error", "payload": { "message": message } })
            }
            Self::KeepAlive => json!({ "type": "ka" }),
            Self::Pong { payload: Some(payload) } => json!({ "type": "pong", "payload": payload }),
            Self::Pong { payload: None } => json!({ "type": "pong" }),
            Self::Next { id, response } => {
                json!({ "type": if legacy { "data" } else { "next" }, "id": id, "payload": to_value(response) })
            }
            // The legacy protocol carries one error object; the current one a list.
            Self::Error { id, errors } if legacy => {
                json!({ "type": "error", "id": id, "payload": errors.first().map(to_value).unwrap_or_default() })
            }
            Self::Error { id, errors } => json!({ "type": "error", "id": id, "payload": to_value(errors) }),
            Self::Complete { id } => json!({ "type": "complete", "id": id }),
        };
        value.to_string()
    }
}

fn to_value(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: Protocol = Protocol::GraphqlTransportWs;
    const OLD: Protocol = Protocol::LegacyGraphqlWs;

    #[test]
    fn well_formed_messages_parse() {
        let m = parse(NEW, r#"{"type":"connection_init","payload":{"token":"t"}}"#).unwrap();
        assert!(matches!(m, ClientMessage::ConnectionInit { payload } if payload["token"] == "t"));
        let m = parse(NEW, r#"{"type":"subscribe","id":"1","payload":{"query":"{ me { id } }","variables":null}}"#)
            .unwrap();
        assert!(matches!(m, ClientMessage::Subscribe { id, request } if id == "1" && request.query == "{ me { id } }"));
        assert!(
            matches!(parse(OLD, r#"{"type":"stop","id":"7"}"#).unwrap(), ClientMessage::Complete { id } if id == "7")
        );
        assert!(matches!(parse(NEW, r#"{"type":"ping"}"#).unwrap(), ClientMessage::Ping { payload: None }));
    }

    #[test]
    fn a_rendered_next_is_the_same_message_as_its_response() {
        let response = Response::new(async_graphql::Value::from_json(serde_json::json!({"a": [1, "x\"y"]})).unwrap());
        let payload = serde_json::to_string(&response).unwrap();
        for protocol in [NEW, OLD] {
            for id in ["1", "a \"quoted\" id"] {
                assert_eq!(
                    next_rendered(protocol, id, &payload),
                    ServerMessage::Next { id, response: &response }.to_json(protocol)
                );
            }
        }
    }

    #[test]
    fn malformed_messages_are_refused() {
        for (protocol, text) in [
            (NEW, "not json"),
            (NEW, "[1]"),
            (NEW, r#"{"id":"1"}"#),
            (NEW, r#"{"type":"subscribe","id":"","payload":{"query":"{a}"}}"#),
            (NEW, r#"{"type":"subscribe","id":"1","payload":{"query":5}}"#),
            (NEW, r#"{"type":"subscribe","id":"1","payload":{"query":"{a}","variables":[1]}}"#),
            (NEW, r#"{"type":"connection_init","payload":"token"}"#),
            (NEW, r#"{"type":"next","id":"1","payload":{}}"#),
            (NEW, r#"{"type":"start","id":"1","payload":{"query":"{a}"}}"#),
            (OLD, r#"{"type":"subscribe","id":"1","payload":{"query":"{a}"}}"#),
        ] {
            assert!(parse(protocol, text).is_err(), "{text} should be refused");
        }
    }
}
