//! The HTTP side of the public surface: GraphQL over HTTP (`graphql`) with its content
//! negotiation (`negotiate`), the embedded GraphiQL (`graphiql`), CORS (`cors`) and the
//! Prometheus endpoint (`metrics`).

pub mod cors;
pub mod graphiql;
pub mod graphql;
pub mod metrics;
pub mod negotiate;
