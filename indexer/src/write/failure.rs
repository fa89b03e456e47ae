//! What a failed write transaction means for the events in it, decided from the error alone
//! (for a database error, its SQLSTATE): wait for the database, split the batch, or stop.
//!
//! A failed transaction changed nothing, so every answer is safe to act on; what differs is
//! whether trying the same events again can succeed.

use super::WriteError;

/// How the pipeline treats a failed transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The database is unreachable, shutting down, out of resources, or chose this transaction
    /// as a serialization or deadlock victim: the same events will go through later, so they
    /// are retried for as long as it takes.
    Transient,
    /// The database rejected what the events hold (a data exception, an integrity violation, a
    /// program limit): trying them again fails again, so the batch is split until the offending
    /// event is found, and only that event is dropped.
    Content,
    /// Anything else (a missing table or permission, a driver or code error): neither waiting
    /// a little nor dropping events helps, so after a few attempts the pipeline stops and an
    /// operator looks.
    Fatal,
}

impl WriteError {
    /// What this error means for the events of the failed transaction.
    pub fn failure(&self) -> Failure {
        match self {
            Self::Database(err) => of_sqlx(err),
            Self::Lexicons(_) | Self::Task(_) | Self::Interrupted => Failure::Fatal,
        }
    }
}

/// Classifies an error from sqlx.
pub fn of_sqlx(err: &sqlx::Error) -> Failure {
    if plyr_store::refuses_connections(err) {
        return Failure::Transient;
    }
    match err {
        sqlx::Error::Database(db) => db.code().map_or(Failure::Fatal, |code| of_sqlstate(&code)),
        // The connection, or getting one, failed: the server is away or the network is.
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => Failure::Transient,
        // A value the driver could not encode or read back.
        sqlx::Error::Encode(_) | sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
            Failure::Content
        }
        _ => Failure::Fatal,
    }
}

/// Classifies a SQLSTATE (PostgreSQL appendix A).
pub fn of_sqlstate(code: &str) -> Failure {
    match code {
        // admin_shutdown, crash_shutdown, cannot_connect_now; serialization_failure,
        // deadlock_detected; lock_not_available.
        "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "55P03" => Failure::Transient,
        _ => match code.get(..2) {
            // connection exception, insufficient resources, system error (I/O).
            Some("08" | "53" | "58") => Failure::Transient,
            // cardinality violation (one statement hit a row twice), data exception, integrity
            // constraint violation, triggered data change violation, WITH CHECK OPTION
            // violation, program limit exceeded, PL/pgSQL raise_exception (a trigger's verdict).
            Some("21" | "22" | "23" | "27" | "44" | "54" | "P0") => Failure::Content,
            _ => Failure::Fatal,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{Failure, of_sqlstate, of_sqlx};

    #[test]
    fn sqlstates() {
        let cases = [
            ("08006", Failure::Transient), // connection_failure
            ("08001", Failure::Transient),
            ("57P01", Failure::Transient), // terminated by pg_terminate_backend
            ("57P03", Failure::Transient), // the database does not accept connections now
            ("53300", Failure::Transient), // too_many_connections
            ("40001", Failure::Transient),
            ("40P01", Failure::Transient),
            ("58030", Failure::Transient),
            ("22021", Failure::Content), // character_not_in_repertoire (NUL)
            ("22008", Failure::Content), // datetime_field_overflow
            ("22000", Failure::Content),
            ("23505", Failure::Content),
            ("54000", Failure::Content), // e.g. an index row too large
            ("21000", Failure::Content),
            ("P0001", Failure::Content),
            ("42P01", Failure::Fatal), // undefined_table: not migrated
            ("42501", Failure::Fatal), // insufficient_privilege
            ("28P01", Failure::Fatal), // bad password
            ("3D000", Failure::Fatal), // no such database
            ("57014", Failure::Fatal), // query_canceled
            ("XX000", Failure::Fatal),
            ("", Failure::Fatal),
        ];
        for (code, expected) in cases {
            assert_eq!(of_sqlstate(code), expected, "{code}");
        }
    }

    #[test]
    fn driver_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(of_sqlx(&sqlx::Error::Io(io)), Failure::Transient);
        assert_eq!(of_sqlx(&sqlx::Error::PoolTimedOut), Failure::Transient);
        assert_eq!(of_sqlx(&sqlx::Error::PoolClosed), Failure::Fatal);
        assert_eq!(of_sqlx(&sqlx::Error::Encode("too big".into())), Failure::Content);
        assert_eq!(of_sqlx(&sqlx::Error::RowNotFound), Failure::Fatal);
    }
}
