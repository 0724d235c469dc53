//! Sign-in attempt counters (`login_throttles`): one row per bucket (`account:<id>`,
//! `login:<text>`, `ip:<address>`). An attempt is counted in one write transaction that locks
//! the bucket rows (PostgreSQL `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` takes the write lock),
//! so attempts arriving at once, at any replica, are counted one after another. The rule is
//! the domain's `ThrottlePolicy`; this module only keeps its records.

use chrono::{DateTime, Utc};
use nishan_domain::DomainResult;
use nishan_domain::ports::LoginThrottleRepository;
use nishan_domain::throttle::{FailureRecord, ThrottlePolicy};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LockType, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction};

use super::{Store, internal};

fn table() -> Alias {
    Alias::new("login_throttles")
}

fn col(name: &str) -> Alias {
    Alias::new(name)
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl Store {
    /// The records of `buckets` (each present, created empty when new), locked for this
    /// transaction, in the order given.
    async fn locked_records(
        &self,
        txn: &DatabaseTransaction,
        buckets: &[&str],
        now: DateTime<Utc>,
    ) -> DomainResult<Vec<FailureRecord>> {
        let mut insert = Query::insert();
        insert.into_table(table()).columns([col("bucket"), col("failures"), col("window_start"), col("blocked_until")]);
        for bucket in buckets {
            insert.values_panic([(*bucket).into(), 0i32.into(), millis(now).into(), Option::<i64>::None.into()]);
        }
        insert.on_conflict(OnConflict::column(col("bucket")).do_nothing().to_owned());
        txn.execute(&insert).await.map_err(internal)?;
        let mut select = Query::select();
        select
            .columns([col("bucket"), col("failures"), col("window_start"), col("blocked_until")])
            .from(table())
            .and_where(Expr::col(col("bucket")).is_in(buckets.iter().copied()))
            // One order for every transaction, so two never wait on each other's rows.
            .order_by(col("bucket"), sea_orm::Order::Asc);
        if self.is_postgres() {
            select.lock(LockType::Update);
        }
        let rows = txn.query_all(&select).await.map_err(internal)?;
        let mut records = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            let bucket: String = row.try_get("", "bucket").map_err(internal)?;
            let failures: i32 = row.try_get("", "failures").map_err(internal)?;
            let window_start: i64 = row.try_get("", "window_start").map_err(internal)?;
            let blocked_until: Option<i64> = row.try_get("", "blocked_until").map_err(internal)?;
            let record = FailureRecord {
                failures: u32::try_from(failures).unwrap_or(0),
                window_start: time(window_start),
                blocked_until: blocked_until.map(time),
            };
            records.insert(bucket, record);
        }
        buckets
            .iter()
            .map(|b| {
                records.get(*b).copied().ok_or_else(|| nishan_domain::DomainError::internal("throttle row missing"))
            })
            .collect()
    }

    async fn store_record(&self, txn: &DatabaseTransaction, bucket: &str, r: &FailureRecord) -> DomainResult<()> {
        let update = Query::update()
            .table(table())
            .value(col("failures"), i32::try_from(r.failures).unwrap_or(i32::MAX))
            .value(col("window_start"), millis(r.window_start))
            .value(col("blocked_until"), r.blocked_until.map(millis))
            .and_where(Expr::col(col("bucket")).eq(bucket))
            .to_owned();
        txn.execute(&update).await.map_err(internal)?;
        Ok(())
    }
}

impl LoginThrottleRepository for Store {
    async fn attempt(
        &self,
        buckets: &[(String, ThrottlePolicy)],
        now: DateTime<Utc>,
    ) -> DomainResult<Vec<Result<(), u64>>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.write().await?;
        let names: Vec<&str> = buckets.iter().map(|(b, _)| b.as_str()).collect();
        let records = self.locked_records(&txn, &names, now).await?;
        let outcomes: Vec<(FailureRecord, Result<(), u64>)> =
            buckets.iter().zip(records).map(|((_, policy), record)| policy.attempt(Some(record), now)).collect();
        // A refused attempt is counted nowhere.
        if outcomes.iter().all(|(_, verdict)| verdict.is_ok()) {
            for ((bucket, _), (record, _)) in buckets.iter().zip(&outcomes) {
                self.store_record(&txn, bucket, record).await?;
            }
        }
        txn.commit().await.map_err(internal)?;
        Ok(outcomes.into_iter().map(|(_, verdict)| verdict).collect())
    }

    async fn succeeded(&self, buckets: &[(String, ThrottlePolicy)]) -> DomainResult<()> {
        if buckets.is_empty() {
            return Ok(());
        }
        let txn = self.write().await?;
        let names: Vec<&str> = buckets.iter().map(|(b, _)| b.as_str()).collect();
        let records = self.locked_records(&txn, &names, Utc::now()).await?;
        for ((bucket, policy), record) in buckets.iter().zip(records) {
            self.store_record(&txn, bucket, &policy.refund(record)).await?;
        }
        txn.commit().await.map_err(internal)
    }
}

/// `DELETE` of the records nothing depends on any more (retention).
pub(super) fn delete_stale(before: DateTime<Utc>) -> sea_orm::sea_query::DeleteStatement {
    let before = millis(before);
    Query::delete()
        .from_table(table())
        .and_where(Expr::col(col("window_start")).lt(before))
        .and_where(Expr::col(col("blocked_until")).is_null().or(Expr::col(col("blocked_until")).lt(before)))
        .to_owned()
}
