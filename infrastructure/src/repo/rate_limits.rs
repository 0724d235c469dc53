//! Rate-limit counters: one row per bucket, counted with a single upsert (any number of
//! actions at once) so that concurrent
//! requests (and several server processes) never lose a hit.

use nishan_domain::DomainResult;
use nishan_domain::ports::RateLimitRepository;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};

use super::{Store, internal};

fn table() -> Alias {
    Alias::new("rate_limits")
}

impl RateLimitRepository for Store {
    async fn hit(&self, buckets: &[String], window_start: i64, actions: u32) -> DomainResult<Vec<u32>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let mut insert = Query::insert();
        insert.into_table(table()).columns([Alias::new("bucket"), Alias::new("window_start"), Alias::new("hits")]);
        for bucket in buckets {
            insert.values_panic([
                bucket.as_str().into(),
                window_start.into(),
                i32::try_from(actions).unwrap_or(i32::MAX).into(),
            ]);
        }
        // A row of an older window starts again; a row of this window counts on.
        insert
            .on_conflict(
                OnConflict::column(Alias::new("bucket"))
                    .value(
                        Alias::new("hits"),
                        Expr::cust(
                            "CASE WHEN rate_limits.window_start = excluded.window_start \
                             THEN rate_limits.hits + excluded.hits ELSE excluded.hits END",
                        ),
                    )
                    .update_column(Alias::new("window_start"))
                    .to_owned(),
            )
            .returning(Query::returning().columns([Alias::new("bucket"), Alias::new("hits")]));
        let rows = self.writer().query_all(&insert).await.map_err(internal)?;
        let mut counts = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            let bucket: String = row.try_get("", "bucket").map_err(internal)?;
            let hits: i32 = row.try_get("", "hits").map_err(internal)?;
            counts.insert(bucket, hits.max(0) as u32);
        }
        Ok(buckets.iter().map(|b| counts.get(b).copied().unwrap_or(actions)).collect())
    }
}
