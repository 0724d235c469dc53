//! Response fields in the order the query asks for them, as the GraphQL specification orders a
//! response map (section 7.2.2, "Serialized Map Ordering"). async-graphql 7 collects the fields
//! of an object as their resolvers finish (a field that waits on the database comes after one
//! that does not), so this schema extension puts every object of an operation's `data` back in
//! the order of its selection set once the operation has run: fields by response key (alias or
//! name) in their first place, fragments (inline and spread) where they stand, nested objects
//! and list items likewise. A key the selection does not name (there is none in a valid answer)
//! keeps its place after the named ones. It orders queries and mutations on every transport and
//! each event of a subscription. Of the parsed document it keeps only the [`Shape`] of its
//! selection sets (response keys and nesting, no argument values), so a large literal in a
//! query is not copied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextSubscribe,
};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Response, ServerResult, Value, Variables};
use futures_util::stream::{BoxStream, StreamExt};

/// The extension factory, registered on the schema.
pub struct ResponseOrder;

impl ExtensionFactory for ResponseOrder {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ResponseOrderExtension { shape: Mutex::new(None) })
    }
}

/// One request's extension: it keeps the shape of the parsed document for the answer.
struct ResponseOrderExtension {
    shape: Mutex<Option<Arc<Shape>>>,
}

impl ResponseOrderExtension {
    fn shape(&self) -> Option<Arc<Shape>> {
        self.shape.lock().expect("response order lock").clone()
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ResponseOrderExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        *self.shape.lock().expect("response order lock") = Some(Arc::new(Shape::of(&document)));
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        if let Some(shape) = self.shape() {
            shape.order(&mut response.data, operation_name);
        }
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let stream = next.run(ctx, stream);
        let Some(shape) = self.shape() else {
            return stream;
        };
        // Queries and mutations over a socket were ordered by `execute` already; ordering again
        // changes nothing.
        let operation_name = ctx.data_opt::<Arc<crate::graphql::gate::RequestTrace>>().and_then(|t| t.name());
        stream
            .map(move |mut response| {
                shape.order(&mut response.data, operation_name.as_deref());
                response
            })
            .boxed()
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

    /// Puts the objects of `data`, the answer to the operation `operation_name` (the only one
    /// when the document has one), in the order of their selection sets.
    pub fn order(&self, data: &mut Value, operation_name: Option<&str>) {
        let operation = match (self.operations.as_slice(), operation_name) {
            ([(None, set)], _) => Some(set),
            (operations, Some(name)) => operations.iter().find(|(n, _)| n.as_deref() == Some(name)).map(|(_, set)| set),
            (operations, None) => operations.first().map(|(_, set)| set),
        };
        if let Some(set) = operation {
            self.order_value(data, &[set]);
        }
    }

    /// Orders `value` by `sets`: the selection sets that select into it (several when a field
    /// is selected more than once, directly or through fragments).
    fn order_value(&self, value: &mut Value, sets: &[&Set]) {
        match value {
            Value::List(items) => {
                for item in items {
                    self.order_value(item, sets);
                }
            }
            Value::Object(map) => {
                let mut keys: Vec<(&Name, Vec<&Set>)> = Vec::new();
                for set in sets {
                    self.collect(set, &mut keys, 0);
                }
                let mut rest = std::mem::take(map);
                let mut ordered = IndexMap::with_capacity(rest.len());
                for (key, subsets) in &keys {
                    if let Some((name, mut field)) = rest.shift_remove_entry(*key) {
                        self.order_value(&mut field, subsets);
                        ordered.insert(name, field);
                    }
                }
                ordered.extend(rest);
                *map = ordered;
            }
            _ => {}
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(query: &str, operation: Option<&str>, data: serde_json::Value) -> String {
        let shape = Shape::of(&async_graphql::parser::parse_query(query).unwrap());
        let mut value = Value::from_json(data).unwrap();
        shape.order(&mut value, operation);
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
