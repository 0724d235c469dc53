//! Relay connections over offset pages, and over keyset pages for a document's entities.
//! Cursors are opaque (base64 of the offset, or of the entity's place in reading order) so the
//! encoding can change without breaking clients that treat them as the spec says.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{OutputType, SimpleObject};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nishan_domain::entity::EntityCursor;
use nishan_domain::ids::EntityId;
use nishan_domain::ports::{Page, PageRequest};

use crate::error::{ApiResult, bad_input};

pub const DEFAULT_PAGE: u64 = 20;
pub const MAX_PAGE: u64 = 100;
/// Largest page of a document's entities: a whole document of 10,000 entities in one request.
pub const MAX_ENTITY_PAGE: u64 = 10_000;

/// The `totalCount` every connection carries.
#[derive(SimpleObject)]
pub struct ConnectionFields {
    pub total_count: u64,
}

pub type Conn<T> = Connection<String, T, ConnectionFields>;

/// The page size `first` asks for; above the cap it is refused.
pub fn page_size(first: Option<i32>) -> ApiResult<u64> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(bad_input("first", "must not be negative")),
        Some(n) if n as u64 > MAX_PAGE => Err(bad_input("first", "must be at most 100")),
        Some(n) => Ok(n as u64),
    }
}

/// The size of a page of a document's entities; above [`MAX_ENTITY_PAGE`] it is refused.
pub fn entity_page_size(first: Option<i32>) -> ApiResult<u64> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(bad_input("first", "must not be negative")),
        Some(n) if n as u64 > MAX_ENTITY_PAGE => Err(bad_input("first", &format!("must be at most {MAX_ENTITY_PAGE}"))),
        Some(n) => Ok(n as u64),
    }
}

/// The cursor of an entity in its document's reading order.
pub fn entity_cursor(c: &EntityCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("e:{}:{}:{}", c.start, c.end, c.id.0))
}

/// The place an [`entity_cursor`] names; BAD_USER_INPUT on `after` otherwise.
pub fn decode_entity_cursor(cursor: &str) -> ApiResult<EntityCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok();
    let text = bytes.as_deref().and_then(|b| std::str::from_utf8(b).ok()).and_then(|t| t.strip_prefix("e:"));
    let parsed = text.and_then(|t| {
        let mut parts = t.splitn(3, ':');
        let start = parts.next()?.parse().ok()?;
        let end = parts.next()?.parse().ok()?;
        let id = parts.next()?.parse().ok()?;
        Some(EntityCursor { start, end, id: EntityId(id) })
    });
    parsed.ok_or_else(|| bad_input("after", "is not a valid cursor"))
}

/// The complexity of a page of entities: `first ×` the cost of one node, as for any connection.
pub fn entity_complexity(child: usize, first: Option<i32>) -> usize {
    let n = first.map(|f| f.clamp(0, MAX_ENTITY_PAGE as i32) as usize).unwrap_or(DEFAULT_PAGE as usize);
    n.saturating_mul(child).saturating_add(1)
}

/// The page a `(first, after)` pair asks for; `first` above the cap is refused.
pub fn page_request(first: Option<i32>, after: Option<&str>) -> ApiResult<PageRequest> {
    let limit = page_size(first)?;
    let offset = match after {
        None => 0,
        Some(cursor) => decode(cursor).ok_or_else(|| bad_input("after", "is not a valid cursor"))? + 1,
    };
    Ok(PageRequest { offset, limit })
}

/// A cursor naming an item by its id, for a list that grows at the top (the audit log): the
/// page after it starts after that item, however many were added since.
pub fn id_cursor(id: uuid::Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("i:{id}"))
}

/// The id an [`id_cursor`] names; BAD_USER_INPUT on `after` otherwise.
pub fn decode_id_cursor(cursor: &str) -> ApiResult<uuid::Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok();
    let text = bytes.as_deref().and_then(|b| std::str::from_utf8(b).ok());
    text.and_then(|t| t.strip_prefix("i:"))
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| bad_input("after", "is not a valid cursor"))
}

fn encode(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn decode(cursor: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    std::str::from_utf8(&bytes).ok()?.strip_prefix("o:")?.parse().ok()
}

/// A connection from one page of results.
pub fn connection<T, N: OutputType>(page: Page<T>, request: PageRequest, node: impl Fn(T) -> N) -> Conn<N> {
    let has_next = request.offset + (page.items.len() as u64) < page.total;
    let mut conn =
        Connection::with_additional_fields(request.offset > 0, has_next, ConnectionFields { total_count: page.total });
    conn.edges.extend(
        page.items.into_iter().enumerate().map(|(i, item)| Edge::new(encode(request.offset + i as u64), node(item))),
    );
    conn
}

/// The complexity of a connection field: `first ×` the cost of one node.
pub fn complexity(child: usize, first: Option<i32>) -> usize {
    let n = first.map(|f| f.clamp(0, MAX_PAGE as i32) as usize).unwrap_or(DEFAULT_PAGE as usize);
    n.saturating_mul(child).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode(&encode(41)), Some(41));
        assert_eq!(page_request(Some(5), Some(&encode(9))).unwrap(), PageRequest { offset: 10, limit: 5 });
        assert!(page_request(None, Some("garbage")).is_err());
        assert!(page_request(Some(101), None).is_err());
        assert!(page_request(Some(-1), None).is_err());
        let id = uuid::Uuid::now_v7();
        assert_eq!(decode_id_cursor(&id_cursor(id)).unwrap(), id);
        assert!(decode_id_cursor(&encode(3)).is_err());
        let place = EntityCursor { start: 7, end: 10, id: EntityId(id) };
        assert_eq!(decode_entity_cursor(&entity_cursor(&place)).unwrap(), place);
        assert!(decode_entity_cursor(&encode(3)).is_err());
        assert!(decode_entity_cursor("garbage").is_err());
        assert_eq!(entity_page_size(Some(10_000)).unwrap(), 10_000);
        assert!(entity_page_size(Some(10_001)).is_err());
    }
}
