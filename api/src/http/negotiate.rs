//! Content negotiation for GraphQL over HTTP: which of the two media types of the
//! GraphQL-over-HTTP specification a client accepts, from its `Accept` header.

/// The media type of a GraphQL response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// `application/graphql-response+json`: status codes follow the outcome.
    GraphqlResponseJson,
    /// `application/json`: the legacy type, 200 for every well-formed request.
    Json,
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

impl ResponseType {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// The response type for an `Accept` header, or `None` when the client accepts neither
/// (406). No header, or only wildcards, means no preference: `application/json`, which older
/// clients expect.
pub fn negotiate(accept: Option<&str>) -> Option<ResponseType> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(ResponseType::Json);
    };
    let ranges: Vec<(String, f32)> = accept.split(',').filter_map(media_range).collect();
    let (gql_q, gql_exact) = quality(&ranges, GRAPHQL_RESPONSE_JSON);
    let (json_q, _) = quality(&ranges, JSON);
    if gql_q <= 0.0 && json_q <= 0.0 {
        return None;
    }
    // The newer type wins when preferred, or when named as often as the old one is liked.
    if gql_q > json_q || (gql_q == json_q && gql_exact) {
        Some(ResponseType::GraphqlResponseJson)
    } else {
        Some(ResponseType::Json)
    }
}

/// One `type/subtype;q=0.5` element: its lower-cased range and its quality.
fn media_range(element: &str) -> Option<(String, f32)> {
    let mut parts = element.split(';');
    let range = parts.next()?.trim().to_ascii_lowercase();
    if range.is_empty() {
        return None;
    }
    let mut q = 1.0;
    for param in parts {
        if let Some((name, value)) = param.split_once('=')
            && name.trim().eq_ignore_ascii_case("q")
        {
            q = value.trim().parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q))?;
        }
    }
    Some((range, q))
}

/// The quality the ranges give `media_type` (that of the most specific range matching it),
/// and whether a range names it exactly.
fn quality(ranges: &[(String, f32)], media_type: &str) -> (f32, bool) {
    let main = media_type.split('/').next().unwrap_or_default();
    let mut best: Option<(u8, f32)> = None;
    for (range, q) in ranges {
        let specificity = if range == media_type {
            3
        } else if range.strip_suffix("/*") == Some(main) {
            2
        } else if range == "*/*" {
            1
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, *q));
        }
    }
    match best {
        Some((specificity, q)) => (q, specificity == 3),
        None => (0.0, false),
    }
}

#[cfg(test)]
mod tests {
    use super::ResponseType::{GraphqlResponseJson as Gql, Json};
    use super::*;

    #[test]
    fn accept_headers_choose_the_response_type() {
        assert_eq!(negotiate(None), Some(Json));
        assert_eq!(negotiate(Some("")), Some(Json));
        assert_eq!(negotiate(Some("*/*")), Some(Json));
        assert_eq!(negotiate(Some("application/*")), Some(Json));
        assert_eq!(negotiate(Some("application/json")), Some(Json));
        assert_eq!(negotiate(Some("application/graphql-response+json")), Some(Gql));
        assert_eq!(negotiate(Some("application/graphql-response+json, application/json;q=0.9")), Some(Gql));
        assert_eq!(negotiate(Some("application/json, application/graphql-response+json;q=0.5")), Some(Json));
        assert_eq!(negotiate(Some("application/graphql-response+json, application/json")), Some(Gql));
        assert_eq!(negotiate(Some("Application/GraphQL-Response+JSON")), Some(Gql));
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("application/xml, text/plain")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
        assert_eq!(negotiate(Some("*/*, application/json;q=0")), Some(Gql));
    }
}
