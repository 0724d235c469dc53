//! Log output: readable text, or one JSON object per line (`NISHAN_LOG_FORMAT=json`) that
//! carries the fields of the span it was written in, so every line of a GraphQL operation
//! has its request id and operation name. Nothing secret is ever a field: tokens, passwords
//! and keys are not logged, and internal errors are logged by correlation id and cause.

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// A subscriber for `filter` (in `tracing` syntax) in `format`, writing to `writer`.
pub fn subscriber<W>(filter: &str, format: LogFormat, writer: W) -> anyhow::Result<Box<dyn Subscriber + Send + Sync>>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).map_err(|e| anyhow::anyhow!("invalid log filter: {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    Ok(match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => {
            Box::new(builder.json().flatten_event(true).with_current_span(true).with_span_list(false).finish())
        }
    })
}

/// Installs the process's logger (to standard output).
pub fn init(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    tracing::subscriber::set_global_default(subscriber(filter, format, std::io::stdout)?)
        .map_err(|e| anyhow::anyhow!("installing the logger: {e}"))
}
