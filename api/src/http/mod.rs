//! The HTTP side of the public surface: GraphQL over HTTP (`graphql`) with its content
//! negotiation (`negotiate`), the embedded GraphiQL (`graphiql`), CORS (`cors`) and the
//! Prometheus endpoint (`metrics`), and the originals of uploads (`artifacts`).

pub mod artifacts;
pub mod cors;
pub mod graphiql;
pub mod graphql;
pub mod metrics;
pub mod negotiate;
