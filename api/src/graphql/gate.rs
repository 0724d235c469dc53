//! The gate every GraphQL operation passes, whatever its transport: steps of the operation's
//! one extension ([`crate::graphql::operation`]) that name what went wrong before execution
//! (parse, validation, a persisted query not found), limit depth, aliases and the number of
//! fields once fragments are expanded (before validation, which walks that expansion), bound
//! every input (`input_limits`), refuse a mutation sent by GET and a subscription sent over
//! HTTP, and count every mutation field against the rate limit. The transport reads the
//! verdict from the operation's [`RequestTrace`]: an operation that never ran is a request
//! error (4xx over HTTP, an `error` message over WebSocket).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::extensions::ExtensionContext;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Positioned, Request, Response, ServerError, ServerResult, Variables};

use crate::error::code;
use crate::graphql::{RequestContext, document_size, input_limits};
use crate::state::AppState;

/// How an operation arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    HttpGet,
    HttpPost,
    WebSocket,
}

/// What the transport learns about one operation from the gate.
#[derive(Debug)]
pub struct RequestTrace {
    pub transport: Transport,
    kind: OnceLock<OperationType>,
    name: OnceLock<String>,
    executed: AtomicBool,
    ended_with_error: AtomicBool,
}

impl RequestTrace {
    pub fn new(transport: Transport) -> Arc<Self> {
        Arc::new(Self {
            transport,
            kind: OnceLock::new(),
            name: OnceLock::new(),
            executed: AtomicBool::new(false),
            ended_with_error: AtomicBool::new(false),
        })
    }

    /// Said by a subscription before its last item, an error (its caller lost access): the
    /// transport sends that item as the operation's `error` and ends the operation.
    pub fn end_with_error(&self) {
        self.ended_with_error.store(true, Ordering::SeqCst);
    }

    /// Whether the subscription's latest item is its final error.
    pub fn ended_with_error(&self) -> bool {
        self.ended_with_error.load(Ordering::SeqCst)
    }

    /// Whether the operation passed the gate and ran (its errors, if any, are execution
    /// errors).
    pub fn executed(&self) -> bool {
        self.executed.load(Ordering::SeqCst)
    }

    /// The kind of the selected operation, once the document is parsed.
    pub fn kind(&self) -> Option<OperationType> {
        self.kind.get().copied()
    }

    /// The name of the selected operation, from the document (clients need not send it).
    pub fn name(&self) -> Option<String> {
        self.name.get().cloned()
    }

    /// Whether `response` (an operation's first) says the operation never ran: it has
    /// errors, no data, and no error from a resolver (those have a path; a subscription's
    /// field errors reach here without the gate's `execute`). If so, gives its untagged errors
    /// the code of a validation failure (async-graphql's own refusals, such as an unknown
    /// operation name, carry none) and returns the code that decides the answer.
    pub fn refusal(&self, response: &mut Response) -> Option<String> {
        let ran = self.executed()
            || response.errors.is_empty()
            || response.data != async_graphql::Value::Null
            || response.errors.iter().any(|e| !e.path.is_empty());
        if ran {
            return None;
        }
        for error in &mut response.errors {
            if error_code(error).is_none() {
                set_code(error, code::GRAPHQL_VALIDATION_FAILED);
            }
        }
        error_code(&response.errors[0]).map(str::to_owned)
    }
}

/// How deep introspection may go. Tools' standard introspection queries (GraphiQL's, Apollo's)
/// nest `ofType` seven to ten levels, deeper than data queries need; introspection is
/// bounded by this instead of the configured depth (and is off in production).
pub const INTROSPECTION_MAX_DEPTH: usize = 20;

/// The gate's limits, from the settings.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    /// Deepest nesting of a data field (the root is depth 1).
    pub max_depth: usize,
    pub max_aliases: usize,
    /// Most field selections of a document, counted after fragment expansion.
    pub max_fields: usize,
    /// What the input limits that follow the document size allow.
    pub input_sizes: input_limits::Sizes,
}

/// What the gate learns of one operation as it passes: its steps are called in order by the
/// operation's extension ([`crate::graphql::operation`]).
pub struct GateCheck {
    limits: Gate,
    operation_name: Mutex<Option<String>>,
    /// The mutations the selected operation runs (its root fields), when it is a mutation.
    mutation_fields: Mutex<Option<usize>>,
    /// The kind of the selected operation, once parsed.
    kind: OnceLock<OperationType>,
}

impl GateCheck {
    pub fn new(limits: Gate) -> Self {
        Self { limits, operation_name: Mutex::new(None), mutation_fields: Mutex::new(None), kind: OnceLock::new() }
    }

    /// The kind of the selected operation, once the document is parsed (with or without a
    /// transport's trace).
    pub fn kind(&self) -> Option<OperationType> {
        self.kind.get().copied()
    }

    /// Before anything reads the request: keeps the operation name it asks for.
    pub fn receive(&self, request: &Request) {
        *self.operation_name.lock().expect("gate lock") = request.operation_name.clone();
    }

    /// Names what went wrong in preparing the request (a persisted query not found).
    pub fn prepare_failed(mut e: ServerError) -> ServerError {
        let tag =
            if e.message == "PersistedQueryNotFound" { code::PERSISTED_QUERY_NOT_FOUND } else { code::BAD_REQUEST };
        set_code(&mut e, tag);
        e
    }

    /// Once prepared: the document's size. It is parsed here (and kept for the parse step),
    /// to be measured before anything walks the expansion of its fragments: async-graphql's
    /// own depth and directive checks do, right after parsing, and so do validation and
    /// execution. A document that does not parse is left to the parse step, which says so.
    pub fn prepared(&self, request: &mut Request) -> ServerResult<()> {
        if let Ok(document) = request.parsed_query() {
            let fields = document_size::expanded_fields(document);
            if fields > self.limits.max_fields {
                let shown = if fields == usize::MAX { "too many".to_owned() } else { fields.to_string() };
                let mut e = ServerError::new(
                    format!(
                        "the document selects {shown} fields once its fragments are expanded; at most {} are allowed",
                        self.limits.max_fields
                    ),
                    None,
                );
                set_code(&mut e, code::GRAPHQL_VALIDATION_FAILED);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Names a parse failure: the parse step also checks nesting and directive limits, so a
    /// document that does not parse is told from one that parses but breaks a limit.
    pub fn parse_failed(mut e: ServerError, query: &str) -> ServerError {
        let parses = !query.is_empty() && async_graphql::parser::parse_query(query).is_ok();
        set_code(&mut e, if parses { code::GRAPHQL_VALIDATION_FAILED } else { code::GRAPHQL_PARSE_FAILED });
        e
    }

    /// Once parsed: depth, aliases and inputs, and what the transport learns of the operation.
    pub fn parsed(
        &self,
        ctx: &ExtensionContext<'_>,
        document: &ExecutableDocument,
        variables: &Variables,
    ) -> ServerResult<()> {
        let (data_depth, introspection_depth) = depths(document);
        if data_depth > self.limits.max_depth || introspection_depth > INTROSPECTION_MAX_DEPTH {
            let mut e = ServerError::new("Query is nested too deep.", None);
            set_code(&mut e, code::GRAPHQL_VALIDATION_FAILED);
            return Err(e);
        }
        let aliases = count_aliases(document);
        if aliases > self.limits.max_aliases {
            let mut e = ServerError::new(
                format!("the document uses {aliases} aliases; at most {} are allowed", self.limits.max_aliases),
                None,
            );
            set_code(&mut e, code::GRAPHQL_VALIDATION_FAILED);
            return Err(e);
        }
        if let Err(refusal) = input_limits::check(document, variables, self.limits.input_sizes) {
            let mut e = ServerError::new(format!("{}: {}", refusal.field, refusal.message), None);
            let extensions = e.extensions.get_or_insert_with(Default::default);
            extensions.set("code", code::BAD_USER_INPUT);
            extensions.set("field", refusal.field);
            return Err(e);
        }
        let name = self.operation_name.lock().expect("gate lock").clone();
        *self.mutation_fields.lock().expect("gate lock") = document_size::mutation_fields(document, name.as_deref());
        if let Some((kind, selected)) = selected(document, name.as_deref()) {
            let _ = self.kind.set(kind);
            if let Some(trace) = ctx.data_opt::<Arc<RequestTrace>>() {
                let _ = trace.kind.set(kind);
                if let Some(selected) = selected {
                    let _ = trace.name.set(selected);
                }
            }
        }
        Ok(())
    }

    /// Names validation failures.
    pub fn validation_failed(mut errors: Vec<ServerError>) -> Vec<ServerError> {
        for e in &mut errors {
            set_code(e, code::GRAPHQL_VALIDATION_FAILED);
        }
        errors
    }

    /// Before execution, the answer of an operation that may not run: a subscription over
    /// HTTP and a mutation by GET are refused, and a mutation's fields are counted against the
    /// rate limit. An operation without a trace did not come through a transport (a test
    /// calling the schema directly): nothing to decide.
    pub async fn refusal(&self, ctx: &ExtensionContext<'_>) -> Option<Response> {
        let trace = ctx.data_opt::<Arc<RequestTrace>>()?;
        match (trace.kind(), trace.transport) {
            (Some(OperationType::Subscription), Transport::HttpGet | Transport::HttpPost) => {
                return Some(refuse("subscriptions are served over WebSocket at /graphql/ws", code::BAD_REQUEST));
            }
            (Some(OperationType::Mutation), Transport::HttpGet) => {
                return Some(refuse("mutations must be sent with POST", code::METHOD_NOT_ALLOWED));
            }
            (Some(OperationType::Mutation), _) => {
                let mutations = self.mutation_fields.lock().expect("gate lock").unwrap_or(1);
                if let (Some(state), Some(request)) = (ctx.data_opt::<AppState>(), ctx.data_opt::<RequestContext>())
                    && let Err(e) = crate::rate_limit::check_mutations(
                        state,
                        &request.viewer,
                        request.meta.ip.as_deref(),
                        u32::try_from(mutations).unwrap_or(u32::MAX),
                    )
                    .await
                {
                    let e = crate::error::to_graphql(e);
                    return Some(Response::from_errors(vec![ServerError {
                        message: e.message,
                        source: e.source,
                        locations: Vec::new(),
                        path: Vec::new(),
                        extensions: e.extensions,
                    }]));
                }
            }
            _ => {}
        }
        trace.executed.store(true, Ordering::SeqCst);
        None
    }

    /// After execution: an argument that does not coerce to its Rust type (a negative number
    /// for an unsigned one, say) fails as the resolver reads it, without a code: it is bad
    /// input.
    pub fn executed(response: &mut Response) {
        for error in &mut response.errors {
            if error.message.starts_with("Failed to parse \"") {
                set_code(error, code::BAD_USER_INPUT);
            }
        }
    }
}

fn refuse(message: &str, tag: &str) -> Response {
    let mut e = ServerError::new(message, None);
    set_code(&mut e, tag);
    Response::from_errors(vec![e])
}

/// Sets `extensions.code` unless the error already has one.
fn set_code(error: &mut ServerError, tag: &str) {
    if error_code(error).is_none() {
        error.extensions.get_or_insert_with(Default::default).set("code", tag);
    }
}

pub fn error_code(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(s) => Some(s),
        _ => None,
    }
}

/// Whether the request selects a subscription (false when its document does not parse, or is
/// a persisted query sent by hash).
pub fn is_subscription(request: &Request) -> bool {
    async_graphql::parser::parse_query(&request.query)
        .ok()
        .and_then(|document| selected(&document, request.operation_name.as_deref()))
        .is_some_and(|(kind, _)| kind == OperationType::Subscription)
}

/// The kind and name of the operation a request selects (by name, or the only one).
fn selected(document: &ExecutableDocument, name: Option<&str>) -> Option<(OperationType, Option<String>)> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some((op.node.ty, None)),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| (op.node.ty, Some(name.to_owned()))),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.iter().next().map(|(name, op)| (op.node.ty, Some(name.to_string())))
        }
        _ => None,
    }
}

/// The nesting depth of the document's operations: under data fields, and under
/// introspection fields (`__schema`, `__type`). Fragments count where they are spread (each
/// fragment's depth is computed once, so a document of fragments spread many times is cheap);
/// validation has already refused fragment cycles.
fn depths(document: &ExecutableDocument) -> (usize, usize) {
    use std::collections::HashMap;

    fn set_depth<'a>(
        document: &'a ExecutableDocument,
        set: &'a SelectionSet,
        memo: &mut HashMap<&'a str, usize>,
        guard: usize,
    ) -> usize {
        // A cycle (only possible in a document validation will refuse) stops here.
        if guard > 64 {
            return 0;
        }
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => 1 + set_depth(document, &f.node.selection_set.node, memo, guard + 1),
                Selection::InlineFragment(f) => set_depth(document, &f.node.selection_set.node, memo, guard + 1),
                Selection::FragmentSpread(spread) => {
                    fragment_depth(document, &spread.node.fragment_name.node, memo, guard + 1)
                }
            })
            .max()
            .unwrap_or(0)
    }

    fn fragment_depth<'a>(
        document: &'a ExecutableDocument,
        name: &'a async_graphql::Name,
        memo: &mut HashMap<&'a str, usize>,
        guard: usize,
    ) -> usize {
        if let Some(depth) = memo.get(name.as_str()) {
            return *depth;
        }
        let depth = document
            .fragments
            .get(name)
            .map(|f| set_depth(document, &f.node.selection_set.node, memo, guard))
            .unwrap_or(0);
        memo.insert(name.as_str(), depth);
        depth
    }

    let mut memo = HashMap::new();
    let (mut data, mut introspection) = (0, 0);
    for (_, operation) in document.operations.iter() {
        for item in &operation.node.selection_set.node.items {
            let (depth, is_introspection) = match &item.node {
                Selection::Field(f) => (
                    1 + set_depth(document, &f.node.selection_set.node, &mut memo, 0),
                    f.node.name.node.starts_with("__"),
                ),
                Selection::InlineFragment(f) => (set_depth(document, &f.node.selection_set.node, &mut memo, 0), false),
                Selection::FragmentSpread(spread) => {
                    (fragment_depth(document, &spread.node.fragment_name.node, &mut memo, 0), false)
                }
            };
            if is_introspection {
                introspection = introspection.max(depth);
            } else {
                data = data.max(depth);
            }
        }
    }
    (data, introspection)
}

/// Aliased fields in every operation and fragment of the document.
fn count_aliases(document: &ExecutableDocument) -> usize {
    fn in_set(set: &Positioned<SelectionSet>) -> usize {
        set.node
            .items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => usize::from(f.node.alias.is_some()) + in_set(&f.node.selection_set),
                Selection::InlineFragment(f) => in_set(&f.node.selection_set),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    document.operations.iter().map(|(_, op)| in_set(&op.node.selection_set)).sum::<usize>()
        + document.fragments.values().map(|f| in_set(&f.node.selection_set)).sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "query A { a: me { id } b: me { x: id } ...F } fragment F on Query { c: me { id } }",
        )
        .unwrap();
        assert_eq!(count_aliases(&doc), 4);
    }

    #[test]
    fn depth_counts_fields_through_fragments_and_sets_introspection_apart() {
        let doc =
            async_graphql::parser::parse_query("{ a { b { c } } ...F } fragment F on Query { d { e { f { g } } } }")
                .unwrap();
        assert_eq!(depths(&doc), (4, 0));
        let doc = async_graphql::parser::parse_query(
            "{ me { id } __schema { types { fields { type { ...T } } } } } \
             fragment T on __Type { ofType { ofType { ofType { name } } } }",
        )
        .unwrap();
        assert_eq!(depths(&doc), (2, 8));
    }

    #[test]
    fn the_selected_operation_decides_the_kind() {
        let doc = async_graphql::parser::parse_query("query Q { me { id } } mutation M { logout }").unwrap();
        assert_eq!(selected(&doc, Some("M")), Some((OperationType::Mutation, Some("M".into()))));
        assert_eq!(selected(&doc, Some("Q")), Some((OperationType::Query, Some("Q".into()))));
        assert_eq!(selected(&doc, None), None);
        let single = async_graphql::parser::parse_query("mutation { logout }").unwrap();
        assert_eq!(selected(&single, None), Some((OperationType::Mutation, None)));
        let named = async_graphql::parser::parse_query("query Me { me { id } }").unwrap();
        assert_eq!(selected(&named, None), Some((OperationType::Query, Some("Me".into()))));
    }
}
