//! The one schema extension every operation passes: the gate ([`crate::graphql::gate`]),
//! persisted queries ([`crate::graphql::persisted_queries`]), the response order
//! ([`crate::graphql::response_order`]) and the bounds on execution
//! ([`crate::graphql::execution`]), as steps of one extension. async-graphql runs every field through
//! each registered extension's `resolve` hook, a boxed future each, even where the extension
//! keeps the default hook; on an answer of 140,000 fields each layer cost about 50 ms, so the
//! steps share one layer.
//!
//! The order of the steps is the order they had as extensions: the gate wraps the
//! persisted-query lookup (so it can name its refusal), the response is ordered after the
//! bounds have had their say, and the gate tags what is left.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest, NextResolve,
    NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Value, Variables};

use crate::graphql::execution::ExecutionBounds;
use crate::graphql::gate::{Gate, GateCheck};
use crate::graphql::persisted_queries::PersistedQueries;
use crate::graphql::response_order::ResponseOrder;

/// The extension factory, registered on the schema.
pub struct OperationChecks {
    pub gate: Gate,
    pub persisted: PersistedQueries,
    /// Most bytes an answer's data may take (0: no limit).
    pub max_response_bytes: usize,
}

impl ExtensionFactory for OperationChecks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Operation {
            gate: GateCheck::new(self.gate),
            persisted: self.persisted.clone(),
            order: ResponseOrder::default(),
            bounds: ExecutionBounds::new(self.max_response_bytes),
        })
    }
}

/// One operation's extension.
struct Operation {
    gate: GateCheck,
    persisted: PersistedQueries,
    order: ResponseOrder,
    bounds: ExecutionBounds,
}

#[async_graphql::async_trait::async_trait]
impl Extension for Operation {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.gate.receive(&request);
        let mut request = self.persisted.resolve(request).await.map_err(GateCheck::prepare_failed)?;
        self.bounds.prepare(&mut request);
        let mut request = next.run(ctx, request).await.map_err(GateCheck::prepare_failed)?;
        self.gate.prepared(&mut request)?;
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await.map_err(|e| GateCheck::parse_failed(e, query))?;
        self.order.parsed(&document);
        self.gate.parsed(ctx, &document, variables)?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(GateCheck::validation_failed)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(response) = self.gate.refusal(ctx).await {
            return response;
        }
        // The kind from the document: a subscription rendered once for many subscribers
        // (`subscription::hub`) has no transport's trace.
        let kind = self.gate.kind();
        self.bounds.begin(kind);
        let mut response = next.run(ctx, operation_name).await;
        self.bounds.executed(&mut response, kind);
        self.order.executed(&mut response, operation_name);
        GateCheck::executed(&mut response);
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        self.bounds.resolve(ctx, info, next).await
    }
}
