//! The HTTP side of the public surface: GraphQL over HTTP (`graphql`) with its content
//! negotiation (`negotiate`), the embedded GraphiQL (`graphiql`), CORS (`cors`) and the
//! Prometheus endpoint (`metrics`), the originals of uploads (`artifacts`), and the job
//! dashboard (`dashboard`), both served from the binary (`embedded`).

pub mod artifacts;
pub mod cors;
pub mod dashboard;
pub mod embedded;
pub mod graphiql;
pub mod graphql;
pub mod metrics;
pub mod negotiate;
