//! Response fields in the order the query asks for them, as the GraphQL specification orders a
//! response map (section 7.2.2, "Serialized Map Ordering"). async-graphql 7 collects the fields
//! of an object as their resolvers finish (a field that waits on the database comes after one
//! that does not), so this schema extension puts every object of an operation's `data` back in
//! the order of its selection set once the operation has run: fields by response key (alias or
//! name) in their first place, fragments (inline and spread) where they stand, nested objects
//! and list items likewise. A key the selection does not name (there is none in a valid answer)
//! keeps its place after the named ones. It orders queries and mutations on every transport and
//! each event of a subscription.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextSubscribe,
};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Response, ServerResult, Value, Variables};
use futures_util::stream::{BoxStream, StreamExt};

/// The extension factory, registered on the schema.
pub struct ResponseOrder;

impl ExtensionFactory for ResponseOrder {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ResponseOrderExtension { document: Mutex::new(None) })
    }
}

/// One request's extension: it keeps the parsed document for the answer.
struct ResponseOrderExtension {
    document: Mutex<Option<Arc<ExecutableDocument>>>,
}

impl ResponseOrderExtension {
    fn document(&self) -> Option<Arc<ExecutableDocument>> {
        self.document.lock().expect("response order lock").clone()
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
        *self.document.lock().expect("response order lock") = Some(Arc::new(document.clone()));
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        if let Some(document) = self.document() {
            in_query_order(&mut response.data, &document, operation_name);
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
        let Some(document) = self.document() else {
            return stream;
        };
        // Queries and mutations over a socket were ordered by `execute` already; ordering again
        // changes nothing.
        let operation_name = ctx.data_opt::<Arc<crate::graphql::gate::RequestTrace>>().and_then(|t| t.name());
        stream
            .map(move |mut response| {
                in_query_order(&mut response.data, &document, operation_name.as_deref());
                response
            })
            .boxed()
    }
}

/// Puts the objects of `data`, the answer to the operation `operation_name` of `document` (the
/// only one when the document has one), in the order of their selection sets.
pub fn in_query_order(data: &mut Value, document: &ExecutableDocument, operation_name: Option<&str>) {
    use async_graphql::parser::types::DocumentOperations;
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation),
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) => operations.values().next(),
    };
    if let Some(operation) = operation {
        order(data, &[&operation.node.selection_set.node], document);
    }
}

/// Orders `value` by `sets`: the selection sets that select into it (several when a field is
/// selected more than once, directly or through fragments).
fn order(value: &mut Value, sets: &[&SelectionSet], document: &ExecutableDocument) {
    match value {
        Value::List(items) => {
            for item in items {
                order(item, sets, document);
            }
        }
        Value::Object(map) => {
            let mut keys: Vec<(&str, Vec<&SelectionSet>)> = Vec::new();
            for set in sets {
                collect(set, document, &mut keys, 0);
            }
            let mut rest = std::mem::take(map);
            let mut ordered = IndexMap::with_capacity(rest.len());
            for (key, subsets) in &keys {
                if let Some((name, mut field)) = rest.shift_remove_entry(*key) {
                    order(&mut field, subsets, document);
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
fn collect<'a>(
    set: &'a SelectionSet,
    document: &'a ExecutableDocument,
    keys: &mut Vec<(&'a str, Vec<&'a SelectionSet>)>,
    depth: usize,
) {
    // Validation refuses fragment cycles; the bound only keeps a bad document from looping.
    if depth > 64 {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                let field = &field.node;
                let key = field.alias.as_ref().unwrap_or(&field.name).node.as_str();
                let subset = &field.selection_set.node;
                match keys.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, subsets)) => subsets.push(subset),
                    None => keys.push((key, vec![subset])),
                }
            }
            Selection::InlineFragment(fragment) => {
                collect(&fragment.node.selection_set.node, document, keys, depth + 1)
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    collect(&fragment.node.selection_set.node, document, keys, depth + 1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(query: &str, operation: Option<&str>, data: serde_json::Value) -> String {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let mut value = Value::from_json(data).unwrap();
        in_query_order(&mut value, &document, operation);
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
