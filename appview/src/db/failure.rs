//! What a failed statement means for the caller: the database is away (a fast 503 the client
//! may retry), the statement ran past `statement_timeout`, the input cannot be stored in a
//! PostgreSQL string (a NUL), or a bug (500).

/// The class of a `sqlx::Error`, as the HTTP edge answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection, a connection lost, the server shutting down or starting up, or every
    /// connection busy for the whole acquire timeout.
    Unavailable,
    /// The statement was cancelled by `statement_timeout` (SQLSTATE 57014).
    TooSlow,
    /// A parameter PostgreSQL cannot hold in a text value (NUL: SQLSTATE 22021, 22P05).
    Unstorable,
    /// Anything else: a bug in a query or a schema mismatch.
    Other,
}

/// SQLSTATEs that mean "the server cannot serve this now", not "this statement is wrong":
/// class 08 (connection exceptions) is matched by prefix.
const UNAVAILABLE_STATES: &[&str] = &[
    "57P01", // admin_shutdown: pg_terminate_backend, a fast shutdown
    "57P02", // crash_shutdown
    "57P05", // idle_session_timeout
    "53300", // too_many_connections
    "53100", // disk_full
    "53200", // out_of_memory
    "40001", // serialization_failure
    "40P01", // deadlock_detected
    "25006", // read_only_sql_transaction (a standby being promoted)
];

/// Classifies `err`.
pub fn classify(err: &sqlx::Error) -> Failure {
    if plyr_store::refuses_connections(err) {
        return Failure::Unavailable;
    }
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Failure::Unavailable,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("57014") => Failure::TooSlow,
            Some("22021" | "22P05") => Failure::Unstorable,
            Some(code) if code.starts_with("08") || UNAVAILABLE_STATES.contains(&code) => {
                Failure::Unavailable
            }
            _ => Failure::Other,
        },
        // The server closed the connection in the middle of a message.
        sqlx::Error::Protocol(msg) if msg.contains("closed") || msg.contains("EOF") => Failure::Unavailable,
        _ => Failure::Other,
    }
}
