//! Bounds on an operation while it executes, around every field (steps of the operation's
//! extension, [`crate::graphql::operation`]):
//!
//! - **Response size.** Each resolved value is charged, as the bytes it will take in the JSON
//!   answer, against `NISHAN_MAX_RESPONSE_BYTES`. Once the budget is spent no further field
//!   runs (each answers an error at once), and the operation's answer is one clear
//!   `RESPONSE_TOO_LARGE` error instead of the data (a mutation keeps what it did and the
//!   data that fit, with the error). So a response over the limit is never built, and the
//!   memory one operation holds stays near the limit.
//! - **Yielding.** Every [`YIELD_EVERY`] fields the operation yields to the scheduler, so a
//!   long execution never holds a worker thread: other requests (`/health`) are served
//!   meanwhile, and the request timeout, which can only fire between polls, stops the
//!   operation within a few milliseconds of its deadline (dropping it ends its work).
//!
//! Large text fields also cost in the complexity limit by what they may return
//! ([`TEXT_COST`]), so a query asking for many of them is refused before it runs, and they
//! copy their text into the answer only when it fits what is left of the budget
//! ([`text_answer`]): fifty aliases of one 10 MB text, all woken by its one read, make three
//! copies, not fifty.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_graphql::extensions::{ExtensionContext, NextResolve, ResolveInfo};
use async_graphql::parser::types::OperationType;
use async_graphql::{Response, ServerError, ServerResult, Value};

use crate::error::code;

/// The complexity of a field that may return a whole document's text (content, lines, a
/// version, a diff, an export): a hundred times a plain field, about one point per 100 KiB of
/// the default largest document (10 MiB). Lists of texts multiply it (`documents(first: 100)
/// { content }` costs 10,100), so a query cannot ask for thousands; how many bytes an answer
/// may hold is the response limit's to say.
pub const TEXT_COST: usize = 100;

/// The complexity of a text field, whatever it selects below it.
pub fn text_cost(child_complexity: usize) -> usize {
    TEXT_COST.saturating_add(child_complexity)
}

/// Fields resolved between two yields to the scheduler: about a millisecond and a half of
/// plain fields on this machine (each yield is a trip through the scheduler, which at 64 cost
/// a tenth of a 140,000-field answer).
pub const YIELD_EVERY: usize = 512;

/// One operation's bounds.
pub struct ExecutionBounds {
    budget: ResponseBudget,
    fields: AtomicUsize,
}

impl ExecutionBounds {
    /// `max_response_bytes`: most bytes an answer's data may take (0: no limit).
    pub fn new(max_response_bytes: usize) -> Self {
        Self {
            budget: ResponseBudget(Arc::new(Budget {
                max_bytes: max_response_bytes,
                used: AtomicUsize::new(0),
                exceeded: AtomicBool::new(false),
                subscription: AtomicBool::new(false),
            })),
            fields: AtomicUsize::new(0),
        }
    }
}

/// One operation's response budget, shared by the extension and (through the request's data)
/// the resolvers of large texts.
#[derive(Clone)]
pub struct ResponseBudget(Arc<Budget>);

struct Budget {
    max_bytes: usize,
    used: AtomicUsize,
    exceeded: AtomicBool,
    /// A subscription's events are answers of their own: their size is not summed.
    subscription: AtomicBool,
}

/// A whole text (a document's content) as a field's answer. It is copied into the answer (an
/// answer's strings are its own) only when that many bytes fit what is left of the operation's
/// budget; otherwise the answer is `RESPONSE_TOO_LARGE` at once, without the copy. The bytes
/// are charged as the field's value, after it resolves, as any other field's.
pub fn text_answer(ctx: &async_graphql::Context<'_>, text: &str) -> async_graphql::Result<String> {
    if let Some(ResponseBudget(budget)) = ctx.data_opt::<ResponseBudget>()
        && !budget.fits(text.len() + 2)
    {
        budget.exceeded.store(true, Ordering::Relaxed);
        let e = async_graphql::Error::new(budget.too_large().message);
        return Err(async_graphql::ErrorExtensions::extend_with(e, |_, ext| ext.set("code", code::RESPONSE_TOO_LARGE)));
    }
    Ok(text.to_owned())
}

impl Budget {
    /// Whether `bytes` more fit the budget (nothing is charged).
    fn fits(&self, bytes: usize) -> bool {
        self.max_bytes == 0
            || self.subscription.load(Ordering::Relaxed)
            || self.used.load(Ordering::Relaxed).saturating_add(bytes) <= self.max_bytes
    }

    fn too_large(&self) -> ServerError {
        let mut e = ServerError::new(
            format!(
                "the answer would be larger than {} bytes (NISHAN_MAX_RESPONSE_BYTES): ask for fewer or smaller \
                 fields, or page through lists",
                self.max_bytes
            ),
            None,
        );
        e.extensions.get_or_insert_with(Default::default).set("code", code::RESPONSE_TOO_LARGE);
        e
    }

    fn charge(&self, bytes: usize) -> ServerResult<()> {
        if self.max_bytes == 0 || self.subscription.load(Ordering::Relaxed) {
            return Ok(());
        }
        let used = self.used.fetch_add(bytes, Ordering::Relaxed).saturating_add(bytes);
        if used > self.max_bytes {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(self.too_large());
        }
        Ok(())
    }
}

impl ExecutionBounds {
    /// Before parsing: the resolvers of large texts find the budget in the request's data.
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        request.data.insert(self.budget.clone());
    }

    /// Before execution (of a query or mutation, and of each event of a subscription, which
    /// async-graphql executes one by one): a subscription's events are not summed.
    pub fn begin(&self, kind: Option<OperationType>) {
        self.budget.0.subscription.store(kind == Some(OperationType::Subscription), Ordering::Relaxed);
    }

    /// After execution: an answer over budget is one `RESPONSE_TOO_LARGE` error.
    pub fn executed(&self, response: &mut Response, kind: Option<OperationType>) {
        if self.budget.0.exceeded.load(Ordering::Relaxed) {
            let error = self.budget.0.too_large();
            if kind == Some(OperationType::Mutation) {
                // What the mutations did is done: keep the data that fit, say what did not.
                response.errors.retain(|e| crate::graphql::gate::error_code(e) != Some(code::RESPONSE_TOO_LARGE));
                response.errors.push(error);
            } else {
                *response = Response::from_errors(vec![error]);
            }
        }
    }

    /// Around each field: refused once the budget is spent, a yield every [`YIELD_EVERY`]
    /// fields, and its value charged.
    pub async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if self.budget.0.exceeded.load(Ordering::Relaxed) {
            return Err(self.budget.0.too_large());
        }
        if self.fields.fetch_add(1, Ordering::Relaxed) % YIELD_EVERY == YIELD_EVERY - 1 {
            yield_to_scheduler().await;
        }
        let shape = Shape::of(&info);
        let value = next.run(ctx, info).await?;
        if let Some(value) = &value {
            self.budget.0.charge(shape.charged_bytes(value))?;
        }
        Ok(value)
    }
}

/// Gives the scheduler a turn: pending once, waking itself at once. (`tokio::task::yield_now`
/// defers its wake until the worker is idle, which a request's batch queue would take for
/// "every resolver is waiting on a loader", and run its batches before all keys are in.)
async fn yield_to_scheduler() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

/// What the charge of a field's value depends on.
struct Shape {
    /// The bytes of its key (or of a list item's separator).
    key: usize,
    /// It selects nothing below it: a scalar, an enum, a JSON value or a list of those.
    leaf: bool,
    /// It is a list (its items pass through `resolve` themselves).
    list: bool,
}

impl Shape {
    fn of(info: &ResolveInfo<'_>) -> Self {
        let key = match &info.path_node.segment {
            async_graphql::QueryPathSegment::Name(name) => name.len() + 4,
            async_graphql::QueryPathSegment::Index(_) => 1,
        };
        let item = matches!(info.path_node.segment, async_graphql::QueryPathSegment::Index(_));
        Self {
            key,
            leaf: info.field.selection_set.node.items.is_empty(),
            list: !item && info.return_type.starts_with('['),
        }
    }

    /// What a resolved value adds to the answer. A field's object or list is made of values
    /// charged when they were resolved, so only its key is charged; a leaf (a scalar, an enum,
    /// a JSON value, an item of a list of scalars) is charged whole.
    fn charged_bytes(&self, value: &Value) -> usize {
        match value {
            Value::Object(_) | Value::List(_) if !self.leaf => self.key,
            Value::List(_) if self.list => self.key,
            _ => self.key + json_bytes(value),
        }
    }
}

/// About how many bytes `value` takes as JSON.
fn json_bytes(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Boolean(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => s.len() + 2,
        Value::Enum(e) => e.len() + 2,
        Value::Binary(b) => b.len() * 4 / 3 + 4,
        Value::List(items) => 2 + items.iter().map(|v| json_bytes(v) + 1).sum::<usize>(),
        Value::Object(fields) => 2 + fields.iter().map(|(k, v)| k.len() + 4 + json_bytes(v)).sum::<usize>(),
    }
}
