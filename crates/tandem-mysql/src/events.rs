//! What the engine reports while it works; the caller decides how to show it (the library
//! never prints).

/// One thing that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A change ran as a plain statement or an online ALTER (`how` says which).
    Applied {
        location: String,
        how: String,
    },
    /// A change needs a copy of the table (the server refused INSTANT and INPLACE/LOCK=NONE).
    CopyStarted {
        location: String,
        table: String,
        shadow: String,
        resumed: bool,
    },
    Copied {
        table: String,
        rows: u64,
        estimate: u64,
    },
    Throttled {
        reason: String,
    },
    ChecksumPassed {
        table: String,
        chunks: usize,
    },
    CutOverAttempt {
        table: String,
        attempt: u32,
    },
    CutOver {
        table: String,
        old: String,
    },
    /// The copy is done and checked; `tandem complete` cuts over.
    WaitingForCutOver {
        table: String,
    },
    RolledBack {
        what: String,
    },
}
