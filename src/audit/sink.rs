//! Where the gateway's records go: one small interface over the audit file of a gateway alone
//! ([`AuditLog`]) and the database of a cluster ([`crate::cluster::AuditChain`]), so that the
//! exchange and the licence verification write a record the same way whatever the deployment.

use std::future::Future;
use std::pin::Pin;

use super::writer::AuditLog;
use super::{AuditError, Record};

/// What [`Sink::append`] returns.
pub type Pending<'a> = Pin<Box<dyn Future<Output = Result<(), AuditError>> + Send + 'a>>;

/// A destination of audit records.
pub trait Sink: Send + Sync {
    /// Writes `records` in order and resolves once they are safe enough to answer: a file's
    /// lines written (a `kill -9` cannot lose them), a database's transaction committed. On
    /// error the request they belong to must not be answered with its data.
    fn append<'a>(&'a self, records: &'a [Record]) -> Pending<'a>;
}

impl Sink for AuditLog {
    fn append<'a>(&'a self, records: &'a [Record]) -> Pending<'a> {
        Box::pin(async move {
            for record in records {
                if self.fsyncs_each_record() {
                    // an fsync per record blocks on the disk: keep it off the async workers
                    tokio::task::block_in_place(|| AuditLog::append(self, record))?;
                } else {
                    self.append_async(record).await?;
                }
            }
            Ok(())
        })
    }
}
