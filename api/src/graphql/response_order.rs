//! Response fields in the order the query asks for them, as the GraphQL specification orders a
//! response map (section 7.2.2, "Serialized Map Ordering"). async-graphql 7 collects the fields
//! of an object as their resolvers finish (a field that waits on the database comes after one
//! that does not), so the operation's extension ([`crate::graphql::operation`]) puts every
//! object of an operation's `data` back in the order of its selection set once the operation
//! has run: fields by response key (alias or name) in their first place, fragments (inline and
//! spread) where they stand, nested objects and list items likewise. A key the selection does
//! not name (there is none in a valid answer) keeps its place after the named ones. It orders
//! queries and mutations on every transport and each event of a subscription (async-graphql
//! executes a subscription's events one by one). Of the parsed document it keeps only the
//! [`Shape`] of its selection sets (response keys and nesting, no argument values), so a large
//! literal in a query is not copied.

use std::collections::HashMap;
use std::sync::OnceLock;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Response, Value};

/// One operation's order: the shape of its parsed document, and the order of its answers,
/// merged once (for a subscription, once for all its events).
#[derive(Default)]
pub struct ResponseOrder {
    shape: OnceLock<Shape>,
    plan: OnceLock<Order>,
}

impl ResponseOrder {
    /// Once parsed: keeps the shape of the document.
    pub fn parsed(&self, document: &ExecutableDocument) {
        let _ = self.shape.set(Shape::of(document));
    }

    /// Once executed (a query, a mutation, each event of a subscription): orders the answer.
    pub fn executed(&self, response: &mut Response, operation_name: Option<&str>) {
        if let Some(shape) = self.shape.get() {
            self.plan.get_or_init(|| shape.plan(operation_name)).apply(&mut response.data);
        }
    }
}

/// The selection sets of a document: response keys and their nesting, nothing else.
#[derive(Debug, Default)]
pub struct Shape {
    /// By name; the document's only operation, unnamed, under `None`.
    operations: Vec<(Option<Name>, Set)>,
    fragments: HashMap<Name, Set>,
}

#[derive(Debug, Default)]
struct Set(Vec<Item>);

#[derive(Debug)]
enum Item {
    /// A field by its response key (alias or name), with its own selection set.
    Field(Name, Set),
    Inline(Set),
    Spread(Name),
}

impl Set {
    fn of(set: &SelectionSet) -> Self {
        Self(
            set.items
                .iter()
                .map(|item| match &item.node {
                    Selection::Field(field) => {
                        let field = &field.node;
                        Item::Field(field.response_key().node.clone(), Set::of(&field.selection_set.node))
                    }
                    Selection::InlineFragment(fragment) => Item::Inline(Set::of(&fragment.node.selection_set.node)),
                    Selection::FragmentSpread(spread) => Item::Spread(spread.node.fragment_name.node.clone()),
                })
                .collect(),
        )
    }
}

impl Shape {
    pub fn of(document: &ExecutableDocument) -> Self {
        let operations = match &document.operations {
            DocumentOperations::Single(operation) => vec![(None, Set::of(&operation.node.selection_set.node))],
            DocumentOperations::Multiple(operations) => operations
                .iter()
                .map(|(name, operation)| (Some(name.clone()), Set::of(&operation.node.selection_set.node)))
                .collect(),
        };
        let fragments =
            document.fragments.iter().map(|(name, f)| (name.clone(), Set::of(&f.node.selection_set.node))).collect();
        Self { operations, fragments }
    }

    /// The order of the answers to the operation `operation_name` (the only one when the
    /// document has one): the selection sets merged once (a list's items and every object at
    /// one path share it), not for each object. Its size is the document's fields once
    /// fragments are expanded, which the gate bounds before the document is parsed.
    pub fn plan(&self, operation_name: Option<&str>) -> Order {
        let operation = match (self.operations.as_slice(), operation_name) {
            ([(None, set)], _) => Some(set),
            (operations, Some(name)) => operations.iter().find(|(n, _)| n.as_deref() == Some(name)).map(|(_, set)| set),
            (operations, None) => operations.first().map(|(_, set)| set),
        };
        operation.map(|set| self.merge(&[set], 0)).unwrap_or_default()
    }

    /// The order of a value selected by `sets`: the selection sets that select into it
    /// (several when a field is selected more than once, directly or through fragments).
    fn merge(&self, sets: &[&Set], depth: usize) -> Order {
        let mut keys: Vec<(&Name, Vec<&Set>)> = Vec::new();
        for set in sets {
            self.collect(set, &mut keys, 0);
        }
        // Validation refuses fragment cycles; the bound only keeps a bad document from looping.
        if depth > 64 {
            return Order::default();
        }
        Order { keys: keys.into_iter().map(|(key, subsets)| (key.clone(), self.merge(&subsets, depth + 1))).collect() }
    }

    /// The response keys of `set` in order, each with the selection sets of its fields.
    fn collect<'a>(&'a self, set: &'a Set, keys: &mut Vec<(&'a Name, Vec<&'a Set>)>, depth: usize) {
        // Validation refuses fragment cycles; the bound only keeps a bad document from looping.
        if depth > 64 {
            return;
        }
        for item in &set.0 {
            match item {
                Item::Field(key, subset) => match keys.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, subsets)) => subsets.push(subset),
                    None => keys.push((key, vec![subset])),
                },
                Item::Inline(inner) => self.collect(inner, keys, depth + 1),
                Item::Spread(name) => {
                    if let Some(fragment) = self.fragments.get(name) {
                        self.collect(fragment, keys, depth + 1);
                    }
                }
            }
        }
    }
}

/// The order of an object's keys, each with the order of its value (none for a leaf).
#[derive(Debug, Default)]
pub struct Order {
    keys: Vec<(Name, Order)>,
}

impl Order {
    /// Puts `value`'s objects in order: a list's items each, an object's keys (rebuilt only
    /// when they are out of order, which most objects are not) and then its values.
    pub fn apply(&self, value: &mut Value) {
        match value {
            Value::List(items) => {
                for item in items {
                    self.apply(item);
                }
            }
            Value::Object(map) if !self.keys.is_empty() => {
                if !self.in_order(map) {
                    let mut rest = std::mem::take(map);
                    let mut ordered = IndexMap::with_capacity(rest.len());
                    for (key, _) in &self.keys {
                        if let Some((name, field)) = rest.shift_remove_entry(key) {
                            ordered.insert(name, field);
                        }
                    }
                    ordered.extend(rest);
                    *map = ordered;
                }
                // The keys are in the plan's order now: one pass finds each one's order.
                let mut plan = self.keys.iter();
                for (key, field) in map.iter_mut() {
                    match plan.find(|(k, _)| k == key) {
                        Some((_, order)) => order.apply(field),
                        None => break,
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether `map`'s keys come in the plan's order (the plan may name keys `map` lacks: a
    /// skipped field, a fragment on another type).
    fn in_order(&self, map: &IndexMap<Name, Value>) -> bool {
        let mut plan = self.keys.iter();
        map.keys().all(|key| plan.any(|(k, _)| k == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(query: &str, operation: Option<&str>, data: serde_json::Value) -> String {
        let shape = Shape::of(&async_graphql::parser::parse_query(query).unwrap());
        let mut value = Value::from_json(data).unwrap();
        shape.plan(operation).apply(&mut value);
        value.into_json().unwrap().to_string()
    }

    #[test]
    fn objects_take_the_order_of_their_selection_sets() {
        let query = "{ project { slug id myRole permissions { canExportData canEditProject } name } }";
        let data = serde_json::json!({"project": {"id": "1", "myRole": "OWNER", "name": "N",
            "permissions": {"canEditProject": true, "canExportData": false}, "slug": "s"}});
        assert_eq!(
            ordered(query, None, data),
            r#"{"project":{"slug":"s","id":"1","myRole":"OWNER","permissions":{"canExportData":false,"canEditProject":true},"name":"N"}}"#
        );
    }

    #[test]
    fn aliases_fragments_lists_and_repeated_fields_follow_the_document() {
        let query = "query A { x } query B { zeta: me { ...F id } alpha: me { id } list { b a } zeta: me { extra } } \
                     fragment F on User { ... on User { username } isAdmin }";
        let data = serde_json::json!({
            "alpha": {"id": 2},
            "list": [{"a": 1, "b": 2}, {"a": 3, "b": 4}],
            "zeta": {"extra": 0, "id": 1, "isAdmin": true, "username": "u"},
        });
        assert_eq!(
            ordered(query, Some("B"), data),
            r#"{"zeta":{"username":"u","isAdmin":true,"id":1,"extra":0},"alpha":{"id":2},"list":[{"b":2,"a":1},{"b":4,"a":3}]}"#
        );
    }

    #[test]
    fn keys_the_selection_does_not_name_keep_their_place_after_it() {
        let data = serde_json::json!({"b": 1, "unnamed": 2, "a": 3});
        assert_eq!(ordered("{ a b }", None, data), r#"{"a":3,"b":1,"unnamed":2}"#);
    }
}
